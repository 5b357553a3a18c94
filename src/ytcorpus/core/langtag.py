"""Language tags compared as languages: `en`, `EN`, `en-US`, `en_GB`, `eng` and `English`
are one language, written `en` (ISO 639-1 where the language has a two-letter code, else
its ISO 639-2/3 code: `haw`, `yue`). Light on purpose: config and the CLI import it.

    language_tag("en-US") -> "en"        # strict: ValueError for a tag that names nothing
    language_key("EN") -> "en"           # lenient, for stored values: unknown -> lower case
    same_language("eng", "en-GB") -> True
"""

from __future__ import annotations

# ISO 639-1 code, ISO 639-2/T code (then the /B code where it differs), English name.
# Every language Whisper knows is here (haw, yue: no two-letter code).
_TABLE = """
aa aar Afar|ab abk Abkhazian|af afr Afrikaans|ak aka Akan|am amh Amharic|an arg Aragonese|
ar ara Arabic|as asm Assamese|av ava Avaric|ay aym Aymara|az aze Azerbaijani|ba bak Bashkir|
be bel Belarusian|bg bul Bulgarian|bi bis Bislama|bm bam Bambara|bn ben Bengali|
bo bod tib Tibetan|br bre Breton|bs bos Bosnian|ca cat Catalan|ce che Chechen|ch cha Chamorro|
co cos Corsican|cr cre Cree|cs ces cze Czech|cu chu Church_Slavic|cv chv Chuvash|
cy cym wel Welsh|da dan Danish|de deu ger German|dv div Divehi|dz dzo Dzongkha|ee ewe Ewe|
el ell gre Greek|en eng English|eo epo Esperanto|es spa Spanish|et est Estonian|
eu eus baq Basque|fa fas per Persian|ff ful Fulah|fi fin Finnish|fj fij Fijian|fo fao Faroese|
fr fra fre French|fy fry Frisian|ga gle Irish|gd gla Gaelic|gl glg Galician|gn grn Guarani|
gu guj Gujarati|gv glv Manx|ha hau Hausa|he heb Hebrew|hi hin Hindi|ho hmo Hiri_Motu|
hr hrv Croatian|ht hat Haitian|hu hun Hungarian|hy hye arm Armenian|hz her Herero|
ia ina Interlingua|id ind Indonesian|ie ile Interlingue|ig ibo Igbo|ii iii Sichuan_Yi|
ik ipk Inupiaq|io ido Ido|is isl ice Icelandic|it ita Italian|iu iku Inuktitut|ja jpn Japanese|
jv jav Javanese|ka kat geo Georgian|kg kon Kongo|ki kik Kikuyu|kj kua Kuanyama|kk kaz Kazakh|
kl kal Kalaallisut|km khm Khmer|kn kan Kannada|ko kor Korean|kr kau Kanuri|ks kas Kashmiri|
ku kur Kurdish|kv kom Komi|kw cor Cornish|ky kir Kyrgyz|la lat Latin|lb ltz Luxembourgish|
lg lug Ganda|li lim Limburgish|ln lin Lingala|lo lao Lao|lt lit Lithuanian|lu lub Luba_Katanga|
lv lav Latvian|mg mlg Malagasy|mh mah Marshallese|mi mri mao Maori|mk mkd mac Macedonian|
ml mal Malayalam|mn mon Mongolian|mr mar Marathi|ms msa may Malay|mt mlt Maltese|
my mya bur Burmese|na nau Nauru|nb nob Bokmal|nd nde North_Ndebele|ne nep Nepali|ng ndo Ndonga|
nl nld dut Dutch|nn nno Nynorsk|no nor Norwegian|nr nbl South_Ndebele|nv nav Navajo|
ny nya Chichewa|oc oci Occitan|oj oji Ojibwa|om orm Oromo|or ori Odia|os oss Ossetian|
pa pan Punjabi|pi pli Pali|pl pol Polish|ps pus Pashto|pt por Portuguese|qu que Quechua|
rm roh Romansh|rn run Rundi|ro ron rum Romanian|ru rus Russian|rw kin Kinyarwanda|
sa san Sanskrit|sc srd Sardinian|sd snd Sindhi|se sme Northern_Sami|sg sag Sango|
si sin Sinhala|sk slk slo Slovak|sl slv Slovenian|sm smo Samoan|sn sna Shona|so som Somali|
sq sqi alb Albanian|sr srp Serbian|ss ssw Swati|st sot Sotho|su sun Sundanese|sv swe Swedish|
sw swa Swahili|ta tam Tamil|te tel Telugu|tg tgk Tajik|th tha Thai|ti tir Tigrinya|
tk tuk Turkmen|tl tgl Tagalog|tn tsn Tswana|to ton Tongan|tr tur Turkish|ts tso Tsonga|
tt tat Tatar|tw twi Twi|ty tah Tahitian|ug uig Uyghur|uk ukr Ukrainian|ur urd Urdu|
uz uzb Uzbek|ve ven Venda|vi vie Vietnamese|vo vol Volapuk|wa wln Walloon|wo wol Wolof|
xh xho Xhosa|yi yid Yiddish|yo yor Yoruba|za zha Zhuang|zh zho chi Chinese|zu zul Zulu|
- haw Hawaiian|- yue Cantonese|- fil Filipino|- ceb Cebuano|- und Undetermined
"""
# withdrawn ISO 639-1 codes still written by old tools (Whisper writes "jw")
_LEGACY = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro"}


def _build() -> dict[str, str]:
    codes: dict[str, str] = dict(_LEGACY)
    for entry in _TABLE.replace("\n", "").split("|"):
        parts = entry.split()
        if not parts:
            continue
        *tags, name = parts
        canonical = tags[0] if tags[0] != "-" else tags[1]
        for tag in [t for t in tags if t != "-"] + [name.replace("_", " ").lower()]:
            codes[tag] = canonical
    return codes


CODES = _build()


def _primary(tag: str) -> str:
    """'en-US' -> 'en', 'pt_BR' -> 'pt', ' English ' -> 'english'."""
    text = tag.strip().replace("_", "-").lower()
    return text if text in CODES else text.split("-")[0].strip()


def language_tag(tag: str) -> str:
    """The canonical code of a language tag a person wrote; ValueError when the tag names
    no known language (a typo would otherwise fail every row as wrong_language)."""
    code = CODES.get(_primary(str(tag)))
    if code is None:
        raise ValueError(f"unknown language tag {tag!r}: use an ISO 639 code such as en, "
                         "de, fr, es (en-US, EN, eng and English all mean en)")
    return code


def language_key(tag: str | None) -> str | None:
    """A stored or detected tag as a canonical code; an unknown one lower-cased (never an
    error: rows already hold it). None and "" stay None."""
    if tag is None or not str(tag).strip():
        return None
    primary = _primary(str(tag))
    return CODES.get(primary, primary)


def same_language(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and language_key(a) == language_key(b)


def language_arg(tag: str) -> str:
    """argparse `type=` for --language: the canonical code, or exit 2 with the reason."""
    import argparse

    try:
        return language_tag(tag)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
