"""docs/parameters.md is generated from src/mail/params.def and must not go
stale; every parameter the seed articles use must be in the table.

Runs tools/gen_parameters_md.py into a temporary file and compares it with
the committed page. The seed check reads the five how-to articles in
shared/seeds (beside the repository, or $HK_SEEDS_DIR) and skips when they
are not there. Needs no build and starts no instance.
"""
import glob
import os
import re
import subprocess
import sys

import pytest

SOURCE_DIR = os.path.abspath(os.environ.get(
    "HK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../..")))
GENERATOR = os.path.join(SOURCE_DIR, "tools", "gen_parameters_md.py")
DOC = os.path.join(SOURCE_DIR, "docs", "parameters.md")
PARAMS_DEF = os.path.join(SOURCE_DIR, "src", "mail", "params.def")

sys.path.insert(0, os.path.join(SOURCE_DIR, "tools"))
import gen_parameters_md  # noqa: E402


def seeds_dir():
    for d in (os.environ.get("HK_SEEDS_DIR"),
              os.path.join(SOURCE_DIR, "..", "shared", "seeds"),
              "/work/shared/seeds"):
        if d and glob.glob(os.path.join(d, "*.txt")):
            return d
    return None


# snake_case words in the seeds that are not main.cf parameters.
NOT_PARAMETERS = {
    # restrictions and access-table actions
    "check_client_access", "check_relay_domains", "permit_mynetworks",
    "permit_sasl_authenticated", "reject_maps_rbl", "reject_non_fqdn_recipient",
    "reject_unauth_destination", "reject_unknown_client",
    # a log field, a SASL option, placeholders in an example
    "orig_to", "mutual_auth", "addr_1", "addr_2", "addr_3",
    # article 004 writes "relay_domain" for relay_domains; Postfix does not
    # know that name either (postconf warns about it as unused)
    "relay_domain",
}
# Parameters whose names have no underscore.
ONE_WORD = re.compile(r"^(my[a-z]+|relayhost|biff)$")


def table_names():
    return {e[0] for e in gen_parameters_md.parse_def(PARAMS_DEF)}


def seed_parameter_names(directory):
    """Names the articles use as parameters: snake_case words, and
    "name = value" / "-o name=value" / "postconf -e name=value" forms."""
    names = set()
    word = re.compile(r"(?<![A-Za-z0-9_.$/-])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b")
    assign = re.compile(r"(?:(?<![A-Za-z0-9_.$/-])([a-z][a-z0-9_]*)\s+="
                        r"|-o\s+([a-z][a-z0-9_]*)="
                        r"|postconf\s+(?:-e\s+)?[\"']?([a-z][a-z0-9_]*)=)")
    for path in sorted(glob.glob(os.path.join(directory, "*.txt"))):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        names.update(m.group(1) for m in word.finditer(text))
        for m in assign.finditer(text):
            name = next(g for g in m.groups() if g)
            if "_" in name or ONE_WORD.match(name):
                names.add(name)
    return names - NOT_PARAMETERS


def test_doc_is_current(tmp_path):
    out = tmp_path / "parameters.md"
    subprocess.run([sys.executable, GENERATOR, "-o", str(out)], check=True)
    with open(DOC, encoding="utf-8") as f:
        committed = f.read()
    assert out.read_text(encoding="utf-8") == committed, (
        "docs/parameters.md is stale: run tools/gen_parameters_md.py")


def test_doc_lists_every_parameter():
    with open(DOC, encoding="utf-8") as f:
        doc = f.read()
    listed = set(re.findall(r"^\| `([A-Za-z0-9_]+)` \|", doc, re.M))
    assert listed == table_names()
    assert "%d parameters." % len(listed) in doc


def test_generator_rejects_bad_lines(tmp_path):
    bad = tmp_path / "params.def"
    bad.write_text('P(foo, PT_STR, "x", PF_NONE, "ok")\nP(bar, PT_STR, "x, PF_NONE)\n')
    r = subprocess.run([sys.executable, GENERATOR, "--def", str(bad), "-o",
                        str(tmp_path / "out.md")], capture_output=True, text=True)
    assert r.returncode != 0
    assert ":2: cannot parse" in r.stderr
    assert not (tmp_path / "out.md").exists()


def test_generator_renders_escapes(tmp_path):
    defs = tmp_path / "params.def"
    defs.write_text('P(a_b, PT_RAW, "x|`y`\\\\ \\"q\\"", PF_MIN0 | PF_COMPUTED, "m|n")\n'
                    'P(c_dir, PT_STR, DEF_C_DIR, PF_NONE, "a path")\n'
                    'P(e, PT_LIST, "", PF_NONE, "nothing")\n')
    cmake = tmp_path / "CMakeLists.txt"
    cmake.write_text('set(HK_C_DIR "${CMAKE_INSTALL_PREFIX}/c" CACHE PATH "c")\n'
                     'add_compile_definitions(DEF_C_DIR="${HK_C_DIR}")\n')
    out = tmp_path / "out.md"
    subprocess.run([sys.executable, GENERATOR, "--def", str(defs), "--cmake", str(cmake),
                    "-o", str(out)], check=True)
    text = out.read_text(encoding="utf-8")
    assert '| `a_b` | raw string (>= 0, computed) | `` x\\|`y`\\ "q" `` | m\\|n |' in text
    assert "| `c_dir` | string | `${prefix}/c` (build setting) | a path |" in text
    assert "| `e` | list | *(empty)* | nothing |" in text
    assert "3 parameters." in text


def test_seed_parameters_are_known():
    directory = seeds_dir()
    if not directory:
        pytest.skip("shared/seeds not found")
    names = seed_parameter_names(directory)
    assert len(names) > 40          # the articles use many; the scan works
    with open(DOC, encoding="utf-8") as f:
        doc = f.read()
    known = table_names()
    missing = sorted(n for n in names if n not in known)
    assert not missing, "seed parameters missing from params.def: %s" % missing
    undocumented = sorted(n for n in names if "| `%s` |" % n not in doc)
    assert not undocumented
