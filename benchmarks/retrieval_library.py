"""The library and questions of the retrieval evaluation (benchmarks/retrieval_eval.py).

Eight short talks on topics the demo talk does not cover, each read by a different espeak-ng
voice at its own speed, some over noise or after a music-like lead-in. Each question paraphrases
one sentence of one talk: that sentence is the answer, and its spoken span is known because
the speech is generated sentence by sentence.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Talk:
    title: str
    voice: str  # espeak-ng voice, optionally +variant
    speed: int  # words per minute
    noise: float  # pink noise amplitude under the speech (0: none)
    lead_in: float  # seconds of a synthetic chord before the speech (0: none)
    sentences: tuple[str, ...]


LIBRARY: tuple[Talk, ...] = (
    Talk(
        "Keeping bees",
        "en-us",
        160,
        0.0,
        0.0,
        (
            "Welcome to this short guide to keeping honey bees in your garden.",
            "A healthy colony has one queen, a few hundred drones and thousands of worker bees.",
            "The queen lays up to two thousand eggs every single day during the summer.",
            "Worker bees collect nectar from flowers and turn it into honey inside wax cells.",
            "Before opening the hive, calm the bees with a little cool smoke from a smoker.",
            "Always wear a veil and gloves, because a frightened bee will sting to defend"
            " the hive.",
            "In autumn, leave enough honey in the hive so the colony can survive the winter.",
        ),
    ),
    Talk(
        "Lighthouses",
        "en-gb",
        150,
        0.02,
        0.0,
        (
            "Lighthouses have guided sailors along dangerous coasts for more than two thousand"
            " years.",
            "The ancient lighthouse of Alexandria was one of the seven wonders of the world.",
            "Early keepers burned wood or coal in an open fire at the top of the tower.",
            "Later, a special glass lens made the beam visible from more than twenty miles away.",
            "Each lighthouse flashes in its own pattern, so a captain can tell which one he sees.",
            "Keepers lived in the tower for months and had to climb the stairs many times a night.",
            "Today almost every lighthouse is automatic, and nobody lives there any more.",
        ),
    ),
    Talk(
        "Roasting coffee",
        "en-gb-scotland",
        170,
        0.0,
        5.0,
        (
            "Let me explain how green coffee beans become the brown beans you buy.",
            "Raw coffee beans are green, hard and smell a bit like fresh grass.",
            "During roasting the beans are heated to about two hundred degrees and keep moving.",
            "After several minutes you hear the first crack, a popping sound like popcorn.",
            "A light roast keeps more of the fruity taste, while a dark roast tastes bitter and"
            " smoky.",
            "Once roasted, the beans must cool quickly on a tray so they stop cooking.",
            "Roasted coffee tastes best within two or three weeks, so buy small bags often.",
        ),
    ),
    Talk(
        "Glaciers",
        "en-gb-x-rp",
        145,
        0.03,
        4.0,
        (
            "Glaciers are rivers of ice that move slowly down mountain valleys.",
            "They form where more snow falls in winter than melts in summer, year after year.",
            "The weight of the snow presses the layers below into dense blue ice.",
            "As a glacier slides it carves the valley into a wide U shape.",
            "Rocks carried by the ice are dropped at the end, forming long ridges called moraines.",
            "Many glaciers are shrinking quickly because the climate is getting warmer.",
            "Melting glaciers raise the level of the sea and threaten coastal cities.",
        ),
    ),
    Talk(
        "Opening moves in chess",
        "en-us+m3",
        185,
        0.0,
        0.0,
        (
            "Here are a few simple ideas for the first moves of a game of chess.",
            "Try to control the four squares in the centre of the board with your pawns.",
            "Bring out your knights and bishops early instead of moving the same piece twice.",
            "Castle soon, so that your king is safe behind a wall of pawns.",
            "Do not bring your queen out too early, or your opponent will chase it around.",
            "Connect your rooks on the back rank once the minor pieces have left it.",
            "Finally, always check what your opponent threatens before you make a move.",
        ),
    ),
    Talk(
        "Fixing a bicycle",
        "en-029",
        155,
        0.025,
        0.0,
        (
            "Every cyclist should know how to do a few basic repairs at home.",
            "To fix a flat tyre, take the wheel off and lever the tyre away from the rim.",
            "Pump a little air into the tube and listen for the hiss to find the hole.",
            "Roughen the rubber around the hole, spread glue, and press a patch over it.",
            "A chain that squeaks needs a few drops of oil, then wipe away what is left.",
            "If the brakes feel soft, tighten the cable until the pads grip the rim firmly.",
            "Check the tyre pressure every week, because soft tyres make pedalling much harder.",
        ),
    ),
    Talk(
        "Roman aqueducts",
        "en-us-nyc",
        165,
        0.0,
        6.0,
        (
            "The Romans built aqueducts to bring fresh water into their growing cities.",
            "An aqueduct used gravity alone, sloping gently downhill over many miles.",
            "Engineers kept the slope so small that the water dropped only a few feet each mile.",
            "Where the channel crossed a valley, it was carried on tall stone arches.",
            "Most of the channel actually ran underground, hidden in tunnels and pipes.",
            "The water filled public fountains, baths and the homes of rich families.",
            "Some Roman aqueducts still carry water today, nearly two thousand years later.",
        ),
    ),
    Talk(
        "Growing tomatoes",
        "en-gb-x-gbclan+f2",
        150,
        0.02,
        3.0,
        (
            "Tomatoes are one of the easiest vegetables to grow in a sunny garden.",
            "Sow the seeds indoors in early spring, about six weeks before the last frost.",
            "Move the young plants outside when the nights are warm and the soil has heated up.",
            "Tomato plants need at least six hours of direct sunshine every day.",
            "Push a tall stake into the ground and tie the stem to it as the plant grows.",
            "Water deeply at the base twice a week, and keep the leaves dry to avoid disease.",
            "Pick the fruit when it is fully red and slightly soft to the touch.",
        ),
    ),
)

# (talk index, answering sentence index, question): questions paraphrase the sentence
QUESTIONS: tuple[tuple[int, int, str], ...] = (
    (0, 1, "how many bees live in one colony"),
    (0, 2, "how many eggs does the queen produce a day"),
    (0, 3, "how is honey made"),
    (0, 4, "using smoke to quiet the insects before opening the box"),
    (0, 6, "making sure the colony gets through the cold months"),
    (1, 1, "the famous ancient wonder in Egypt that guided ships"),
    (1, 2, "what fuel did the first lighthouse keepers use"),
    (1, 3, "how far away could the light be seen"),
    (1, 4, "how do captains tell one lighthouse from another"),
    (1, 6, "are lighthouses still staffed by people"),
    (2, 1, "what do unroasted coffee beans look and smell like"),
    (2, 2, "what temperature are beans roasted at"),
    (2, 3, "the popping noise during roasting"),
    (2, 4, "difference in flavour between light and dark roasts"),
    (2, 6, "how long does roasted coffee stay fresh"),
    (3, 1, "how does a glacier form"),
    (3, 2, "why is glacier ice blue and dense"),
    (3, 3, "what shape of valley do glaciers carve"),
    (3, 4, "ridges of rock left behind by the ice"),
    (3, 6, "melting ice causing sea level rise"),
    (4, 1, "controlling the middle of the board"),
    (4, 2, "developing knights and bishops in the opening"),
    (4, 3, "keeping the king safe by castling"),
    (4, 4, "why not to move the queen out early"),
    (4, 6, "look at your opponent's threats first"),
    (5, 1, "removing the tyre to repair a puncture"),
    (5, 2, "finding the leak in an inner tube"),
    (5, 3, "gluing a patch onto the tube"),
    (5, 4, "what to do about a noisy chain"),
    (5, 5, "brakes that are not gripping well"),
    (6, 1, "how did aqueducts move water without pumps"),
    (6, 2, "how steep was the slope of the channel"),
    (6, 3, "stone arches carrying water across valleys"),
    (6, 4, "were aqueduct channels mostly underground"),
    (6, 5, "who used the water from the aqueducts"),
    (7, 1, "when should I start tomato seeds indoors"),
    (7, 2, "when to plant seedlings outdoors"),
    (7, 3, "how much sun do tomatoes need"),
    (7, 4, "supporting the plant with a stake"),
    (7, 5, "how often to water tomato plants"),
)
