#!/usr/bin/env python3
"""selftest.py — proves check_archive.py catches what it claims to: each case
mutates a copy of a real plugin ZIP in one way and asserts that exactly the
expected rule fails (and that the unmutated baseline passes every rule).

Usage: selftest.py PLUGIN.zip   → prints ok/FAIL per case and `selftest: N passed, N failed`.
"""
import importlib.util
import json
import os
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("check_archive", os.path.join(HERE, "check_archive.py"))
ca = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ca)

README = b"# Algo Trading P&L\n\nComputes trading performance from a Postgres trade table.\n"


def load(path):
    with zipfile.ZipFile(path) as z:
        return [(i, z.read(i)) for i in z.infolist()]


def write(entries, path):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in entries:
            z.writestr(info, data)


def run_checker(path):
    ca.results.clear()
    ca.check(path)
    return {name for status, name, _ in ca.results if status == "FAIL"}


def main():
    base = load(sys.argv[1])
    root = base[0][0].filename.split("/", 1)[0]
    # Keep one bundled library: 30 rewrites of ~70 libraries would only cost time.
    libs = [e for e in base if e[0].filename.startswith(f"{root}/lib/") and not e[0].filename.endswith("/")]
    base = [e for e in base if e not in libs[1:]]
    meta = json.loads(next(d for i, d in base if i.filename == f"{root}/plugin.json"))
    exe = f"{root}/{meta['executable']}_linux_amd64"
    # Baseline: the real archive, with a README put in when the repo has none
    # yet, so each mutation below is the only defect.
    if not any(i.filename == f"{root}/README.md" for i, _ in base):
        base.append((zipfile.ZipInfo(f"{root}/README.md"), README))

    def replace(name, data):
        return [(i, data if i.filename == f"{root}/{name}" else d) for i, d in base]

    def set_meta(**kv):
        m = json.loads(json.dumps(meta))
        for k, v in kv.items():
            cur = m
            keys = k.split("__")
            for kk in keys[:-1]:
                cur = cur[kk]
            cur[keys[-1]] = v
        return replace("plugin.json", json.dumps(m).encode())

    def rename_root(new):
        out = []
        for i, d in base:
            j = zipfile.ZipInfo(new + i.filename[len(root):], i.date_time)
            j.external_attr = i.external_attr
            out.append((j, d))
        return out

    def chmod(name, mode):
        out = []
        for i, d in base:
            if i.filename == name:
                j = zipfile.ZipInfo(i.filename, i.date_time)
                j.external_attr = (0o100000 | mode) << 16
                out.append((j, d))
            else:
                out.append((i, d))
        return out

    def drop(name):
        return [(i, d) for i, d in base if i.filename != f"{root}/{name}"]

    def add(name, data):
        return base + [(zipfile.ZipInfo(name), data)]

    svg_script = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    svg_onload = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="1" height="1"/></svg>'
    svg_ext = b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink"><use x:href="https://evil/x.svg#a"/></svg>'
    cases = [
        ("baseline passes every rule", base, set()),
        ("wrong root folder name", rename_root("other-name-datasource"), {"archive-name"}),
        ("root folder named dist", rename_root("dist"), {"root-dir-not-dist", "archive-name"}),
        ("two root folders", add("extra/readme.txt", b"x"), {"single-root-dir"}),
        ("file at top level", add("stray.txt", b"x"), {"single-root-dir"}),
        ("binary mode 0644", chmod(exe, 0o644), {"binary-permissions"}),
        ("binary missing", drop(f"{meta['executable']}_linux_amd64"), {"backend-binary-linux-amd64", "binary-permissions"}),
        ("no module.js", drop("module.js"), {"module-js"}),
        ("svg with <script>", replace("img/logo.svg", svg_script), {"safe-svg img/logo.svg"}),
        ("svg with onload", replace("img/logo.svg", svg_onload), {"safe-svg img/logo.svg"}),
        ("svg with external href", replace("img/logo.svg", svg_ext), {"safe-svg img/logo.svg"}),
        ("template README", replace("README.md", b"# Grafana data source plugin template\n\nThis template is a starting point for building a data source.\n"), {"readme-not-template"}),
        ("empty README", replace("README.md", b"  \n"), {"readme", "readme-not-template"}),
        ("no CHANGELOG", drop("CHANGELOG.md"), {"changelog"}),
        ("unrecognised LICENSE", replace("LICENSE", b"Copyright. All rights reserved.\n"), {"license"}),
        ("pid.txt left over", add(f"{root}/pid.txt", b"123"), {"backend-debug"}),
        ("standalone.txt left over", add(f"{root}/standalone.txt", b"x"), {"backend-debug"}),
        ("bad id pattern", set_meta(id="Algo_Trading"), {"schema-id-pattern", "archive-name", "plugin-name", "type-suffix"}),
        ("plugin.json not JSON", replace("plugin.json", b"{ nope"), {"metadata-parses"}),
        ("logo path missing", set_meta(info__logos={"small": "img/nope.svg", "large": "img/logo.svg"}), {"metadata-paths"}),
        ("absolute include path", set_meta(includes=[{"type": "dashboard", "name": "x", "path": "/etc/passwd"}]), {"metadata-paths"}),
        ("alerting without backend", set_meta(backend=False), {"alerting-needs-backend", "executable-needs-backend"}),
        ("bad grafanaDependency", set_meta(dependencies={"grafanaDependency": "latest"}), {"grafana-dependency"}),
        ("version not semver", set_meta(info__version="1.0"), {"schema-info-version"}),
        ("updated not a date", set_meta(info__updated="yesterday"), {"schema-info-updated"}),
        ("no keywords", set_meta(info__keywords=[]), {"schema-info-keywords", "discoverability"}),
        ("name equals id", set_meta(name=meta["id"]), {"plugin-name"}),
        ("http link", set_meta(info__links=[{"name": "x", "url": "http://example.org"}]), {"safe-links"}),
        ("text file in lib/", add(f"{root}/lib/libfoo.so.1", b"not elf"), {"bundled-libs-elf"}),
    ]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, entries, expect in cases:
            path = os.path.join(tmp, "case.zip")
            write(entries, path)
            got = run_checker(path)
            ok = got == expect
            passed += ok
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": expected {sorted(expect)}, got {sorted(got)}"))
        bad = os.path.join(tmp, "not.zip")
        with open(bad, "wb") as f:
            f.write(b"not a zip")
        ok = run_checker(bad) == {"archive-readable"}
        passed += ok
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} not a zip file")
    print(f"selftest: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
