"""Translation catalogues: the Russian strings live in small per-area catalogues under
locale/parts/ (accounts, lists, campaigns, moderation, complaints, shared), so people working on
different parts of the site never edit one file at once. `bin/translations build` merges them into
locale/ru/LC_MESSAGES/django.po and compiles django.mo (pure Python, no gettext needed), which is
what Django loads. `bin/translations missing [AREA]` extracts the marked strings from the code and
templates (Django's makemessages, which needs GNU gettext's xgettext) and prints, as PO entries
ready to translate, those no part translates yet."""

import os
import shutil
import tempfile
from pathlib import Path

import polib

BASE_DIR = Path(__file__).resolve().parent.parent
PARTS_DIR = BASE_DIR / "locale" / "parts"
LANGUAGE = "ru"
CATALOGUE = BASE_DIR / "locale" / LANGUAGE / "LC_MESSAGES" / "django.po"
AREAS = ("accounts", "lists", "campaigns", "moderation", "complaints", "shared")
# What makemessages reads: the apps and the project templates (not .venv, tests or bench).
SOURCE_DIRS: tuple[str, ...] = (
    "config",
    "accounts",
    "lists",
    "campaigns",
    "moderation",
    "complaints",
    "outbox",
)
SOURCE_DIRS += ("templates",)
PLURAL_FORMS = (
    "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
    "(n%100<10 || n%100>=20) ? 1 : 2);"
)


def area_of(reference: str) -> str:
    """The area a source reference ("templates/lists/x.html:3", "lists/forms.py:9") belongs to."""
    parts = Path(reference.split(":")[0]).parts
    if parts and parts[0] == "templates":
        parts = parts[1:]
    return parts[0] if len(parts) > 1 and parts[0] in AREAS else "shared"


def _key(entry: polib.POEntry) -> tuple[str, str]:
    return (entry.msgctxt or "", entry.msgid)


def _translated(entry: polib.POEntry) -> bool:
    if entry.obsolete or "fuzzy" in entry.flags:
        return False
    if entry.msgid_plural:
        return bool(entry.msgstr_plural) and all(entry.msgstr_plural.values())
    return bool(entry.msgstr)


def load_parts() -> dict[tuple[str, str], polib.POEntry]:
    """Every translated entry of every part; the first part (alphabetically) wins a clash."""
    entries: dict[tuple[str, str], polib.POEntry] = {}
    for path in sorted(PARTS_DIR.glob("*.po")):
        for entry in polib.pofile(str(path)):
            if _translated(entry):
                entries.setdefault(_key(entry), entry)
    return entries


def build() -> Path:
    """Merge the parts into the catalogue Django loads and compile it; returns the .mo path."""
    catalogue = polib.POFile(wrapwidth=100)
    catalogue.metadata = {
        "Project-Id-Version": "consentmail",
        "Language": LANGUAGE,
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
        "Plural-Forms": PLURAL_FORMS,
    }
    entries = load_parts()
    for key in sorted(entries):
        catalogue.append(entries[key])
    CATALOGUE.parent.mkdir(parents=True, exist_ok=True)
    mo_path = CATALOGUE.with_suffix(".mo")
    # Write beside and rename, so a server (or a second build) never reads half a file.
    for path, save in ((CATALOGUE, catalogue.save), (mo_path, catalogue.save_as_mofile)):
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        save(str(temporary))
        temporary.replace(path)
    return mo_path


def extract() -> polib.POFile:
    """Every string marked for translation in the sources, with references, as one POFile.

    makemessages writes into the first `locale` directory above each file it reads, which here
    would be the project's own; it is run in a scratch tree of symlinks to the sources instead."""
    from django.core.management import call_command
    from django.test.utils import override_settings

    with tempfile.TemporaryDirectory() as scratch:
        tree, out = Path(scratch) / "src", Path(scratch) / "out"
        tree.mkdir()
        for name in SOURCE_DIRS:
            (tree / name).symlink_to(BASE_DIR / name, target_is_directory=True)
        cwd = os.getcwd()
        try:
            os.chdir(tree)
            with override_settings(LOCALE_PATHS=[str(out)]):
                call_command(
                    "makemessages",
                    locale=[LANGUAGE],
                    symlinks=True,
                    no_obsolete=True,
                    ignore_patterns=["*/migrations/*", "*/management/*"],
                    verbosity=0,
                )
        finally:
            os.chdir(cwd)
        extracted = out / LANGUAGE / "LC_MESSAGES" / "django.po"
        # makemessages writes no file when nothing is marked.
        return polib.pofile(str(extracted)) if extracted.exists() else polib.POFile()


def missing(areas: tuple[str, ...] = AREAS) -> list[polib.POEntry]:
    """The extracted entries of `areas` that no part translates (each with its references)."""
    translated = load_parts()
    result = []
    for entry in extract():
        if _key(entry) in translated:
            continue
        if any(area_of(path) in areas for path, _line in entry.occurrences):
            result.append(entry)
    return result


def xgettext_available() -> bool:
    return shutil.which("xgettext") is not None
