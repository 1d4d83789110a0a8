"""Prompts to start from: a curated list, six shown at a time."""

import random

SUGGESTIONS = (
    "A lighthouse on a basalt cliff at dawn, waves exploding into mist, golden light",
    "A cosy reading nook in a treehouse during a thunderstorm, warm lamp light, rain on glass",
    "Isometric cutaway of a tiny bakery at 5 a.m., bakers shaping bread, soft pastel colours",
    "A red fox curled up asleep in fresh snow, shallow depth of field, morning blue hour",
    "Retro-futurist poster of a solar-powered airship over a desert city, 1960s print style",
    "Macro photograph of a dew drop on a fern, reflecting a whole forest inside it",
    "A cat astronaut floating in a space station full of houseplants, cinematic lighting",
    "Studio product shot of a glass perfume bottle on wet black stone, dramatic rim light",
    "Watercolour map of an imaginary archipelago with tiny hand-lettered island names",
    "A bustling night market in the rain, neon reflections on wet streets, steam from food stalls",
    "Minimalist logo of a mountain and a sun for a hiking club, flat vector, two colours",
    "Portrait of an elderly fisherman with weathered hands mending a net, natural window light",
    "A library where the bookshelves spiral up into clouds, tiny readers on floating ladders",
    "Children's book illustration of a hedgehog delivering letters on a bicycle, autumn lane",
    "Aerial view of turquoise rice terraces after rain, morning mist in the valleys",
    "A brutalist concrete house cantilevered over a waterfall, overcast Nordic light",
    "Cutaway diagram of a steampunk pocket watch with glowing gears, technical drawing style",
    "A bowl of ramen with a soft-boiled egg, top-down food photography, dark ceramic",
    "An astronaut planting a small tree on the Moon, Earth rising over the horizon",
    "Art nouveau stained-glass window of a heron among lotus flowers",
    "A tiny village built inside a giant hollow pumpkin, lanterns glowing at dusk",
    "Low-poly 3D render of a fishing boat on a calm lake at sunrise",
    "A jazz trio playing in a smoky 1950s club, film grain, moody teal and orange",
    "Botanical illustration of an imaginary flower with bioluminescent petals, labelled parts",
    "A robot barista making latte art in a sunlit café, friendly and detailed",
    "Snow-covered Japanese temple at night, paper lanterns, gentle snowfall, ukiyo-e style",
    "A whale swimming through clouds above a sleepy seaside town, dreamy pastel sky",
    "Cross-section of an ant colony as a bustling underground city, playful infographic",
    "Interior of a greenhouse restaurant with hanging plants and long wooden tables, golden hour",
    "Pixel-art scene of a wizard's tower on a floating island, 16-bit colours",
    "A vintage travel poster for Mars: 'Visit Olympus Mons', bold shapes, limited palette",
    "Close-up of a hummingbird feeding from a fuchsia, frozen wings, bokeh background",
    "A cosy cabin in a snowy mountain landscape at night with aurora borealis",
    "Chalk drawing on a blackboard explaining how rainbows form, clear labels",
)

SHOWN = 6


def pick_suggestions(*, count: int = SHOWN, seed: int | None = None) -> list[str]:
    """`count` different suggestions, in a random order (repeatable with a seed)."""
    return random.Random(seed).sample(SUGGESTIONS, count)
