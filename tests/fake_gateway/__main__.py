from tests.fake_gateway.server import main

main()
