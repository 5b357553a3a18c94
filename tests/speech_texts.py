"""Lecture-like texts for espeak-ng speech in several languages (written for these tests).

Two English lectures on the same topic (the printing press) with different wording: a
duplicate detector must keep them apart while it matches a re-encoded copy of either."""

ENGLISH_PRESS_A = (
    "The printing press changed the history of the world. Before it was invented, books "
    "were copied by hand, which was slow and expensive. Around the year fourteen fifty, "
    "Johannes Gutenberg built a press with movable metal type. Suddenly a workshop could "
    "produce hundreds of copies of the same text in a few weeks. Ideas travelled faster "
    "than ever before. Scientists could share their results, students could own their own "
    "books, and many more people learned to read. Historians often say that the printing "
    "press helped to start the scientific revolution and the reformation. In the next part "
    "of this course we will look at how newspapers appeared in the seventeenth century, "
    "and how they shaped public opinion in the cities of Europe."
)

ENGLISH_PRESS_B = (
    "Today we study the printing press and what it did to Europe. Gutenberg was a "
    "goldsmith from Mainz, and his real invention was a mould that cast letters quickly "
    "and in large numbers. He combined it with an oil based ink and a screw press borrowed "
    "from wine makers. His famous bible was printed in about one hundred and eighty copies. "
    "Within fifty years there were print shops in more than two hundred towns. Prices of "
    "books fell, and printers looked for new readers with pamphlets, calendars and "
    "schoolbooks. Luther used these cheap pamphlets to spread his arguments across Germany. "
    "For your essay, compare the early printers of Venice with those of Mainz, and explain "
    "why the trade grew so fast in Italian cities."
)

ENGLISH_CELLS = (
    "Every living thing is made of cells. A cell is surrounded by a thin membrane that "
    "controls what enters and what leaves. Inside, the nucleus holds the genetic "
    "instructions, written in long molecules of deoxyribonucleic acid. Small structures "
    "called mitochondria turn sugar and oxygen into the energy the cell needs. Plant cells "
    "also have a rigid wall and green chloroplasts that capture light. When a cell divides, "
    "it first copies its instructions, so that each daughter cell receives a full set."
)

GERMAN = (
    "Die Druckerpresse hat die Geschichte der Welt verändert. Bevor sie erfunden wurde, "
    "wurden Bücher mit der Hand abgeschrieben, was langsam und teuer war. Um das Jahr "
    "vierzehnhundertfünfzig baute Johannes Gutenberg eine Presse mit beweglichen Lettern "
    "aus Metall. Plötzlich konnte eine Werkstatt in wenigen Wochen Hunderte von Kopien "
    "desselben Textes herstellen. Ideen verbreiteten sich schneller als je zuvor. "
    "Wissenschaftler konnten ihre Ergebnisse teilen, und viel mehr Menschen lernten lesen."
)

SPANISH = (
    "La imprenta cambió la historia del mundo. Antes de su invención, los libros se "
    "copiaban a mano, lo que era lento y costoso. Hacia el año mil cuatrocientos "
    "cincuenta, Johannes Gutenberg construyó una prensa con tipos móviles de metal. De "
    "repente, un taller podía producir cientos de copias del mismo texto en pocas semanas. "
    "Las ideas viajaban más rápido que nunca. Los científicos podían compartir sus "
    "resultados y muchas más personas aprendieron a leer."
)

FRENCH = (
    "L'imprimerie a changé l'histoire du monde. Avant son invention, les livres étaient "
    "copiés à la main, ce qui était lent et coûteux. Vers l'an mille quatre cent "
    "cinquante, Johannes Gutenberg construisit une presse à caractères mobiles en métal. "
    "Tout à coup, un atelier pouvait produire des centaines de copies du même texte en "
    "quelques semaines. Les idées voyageaient plus vite que jamais. Les savants pouvaient "
    "partager leurs résultats et beaucoup plus de gens apprirent à lire."
)

# voice -> text, for the language decision
BY_VOICE = {"en-us": ENGLISH_PRESS_A, "de": GERMAN, "es": SPANISH, "fr": FRENCH}
