"""ICC colour profiles: which ones an upload may keep, and turning a thumbnail into sRGB.

A profile is the one piece of metadata worth keeping on an upload (a photo from a wide-gamut
camera or editor looks wrong without it), but it is also a place to hide megabytes: a 16x16
JPEG once carried a made-up 7.6 MB one. So a profile is kept only if it is small, readable by
littlecms (Pillow's colour engine) and describes the image's kind of pixels. Thumbnails keep
none at all: their pixels are converted to sRGB instead, which is what a browser assumes.
"""

from __future__ import annotations

import io

from PIL import Image, ImageCms

# Real ICC profiles are 0.5-60 KB, a few up to ~0.5 MB; anything bigger is not worth keeping.
MAX_PROFILE_BYTES = 1_000_000

# The pixel modes each profile colour space can describe.
_PROFILE_MODES = {
    "RGB ": ("RGB", "RGBA", "P", "PA"),
    "GRAY": ("1", "L", "LA", "I;16", "I"),
    "CMYK": ("CMYK",),
}


def usable_profile(im: Image.Image) -> ImageCms.ImageCmsProfile | None:
    """The image's ICC profile if it is worth keeping, else None. A bad profile is dropped, not
    refused: browsers and models then take the pixels as sRGB, as almost every picture is."""
    data = im.info.get("icc_profile")
    if not data or len(data) > MAX_PROFILE_BYTES:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(data))
        space = profile.profile.xcolor_space
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError):
        return None
    return profile if im.mode in _PROFILE_MODES.get(space, ()) else None


def to_srgb(im: Image.Image, profile: ImageCms.ImageCmsProfile) -> Image.Image:
    """The image's colours in sRGB (RGB or RGBA), so it needs no profile of its own. Meant for
    thumbnails: on 512 px it costs about 5-10 ms. A profile littlecms cannot apply to these
    pixels leaves them as they are."""
    try:
        # sRGB is made per call (0.3 ms): littlecms does not promise a profile can be shared by
        # threads.
        return ImageCms.profileToProfile(
            im,
            profile,
            ImageCms.createProfile("sRGB"),
            outputMode="RGBA" if "A" in im.mode else "RGB",
        )
    except ImageCms.PyCMSError:
        return im
