#!/usr/bin/env python3
"""check_archive.py — offline re-implementation of the archive-level rules of
Grafana's plugin validator (grafana/plugin-validator 0.45.x analyzers listed in
shared ecosystem.md §1.2), for a plugin ZIP.

What it is not: it does not check signatures (we ship unsigned, a warning),
anything needing the source tree or the network, or the validator's
"Go build info" rule that no C binary can pass (ecosystem.md §0.1).

Usage: check_archive.py PLUGIN.zip
Prints `ok|FAIL|warn <rule>` per rule and `archive: N passed, N failed`;
exits 1 when any rule failed. Never raises on a malformed archive: every
problem is reported as a failed rule.
"""
import json
import re
import stat
import sys
import zipfile
import xml.etree.ElementTree as ET

ID_RE = re.compile(r"^[0-9a-z]+\-([0-9a-z]+\-)?(app|panel|datasource)$")
SEMVER_RE = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# npm-semver comparator: optional operator, a partial version (x/*/X allowed).
COMPARATOR_RE = re.compile(r"^(\^|~|>=|<=|>|<|=)?v?(\d+|[xX*])(\.(\d+|[xX*]))?(\.(\d+|[xX*]))?(-[0-9A-Za-z.-]+)?$")
TYPES = {"app", "datasource", "panel", "renderer", "secretsmanager"}
LICENSES = [  # (name, phrases that identify the licence text)
    ("Apache-2.0", ["Apache License", "Version 2.0", "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"]),
    ("MIT", ["Permission is hereby granted, free of charge", "THE SOFTWARE IS PROVIDED \"AS IS\""]),
    ("BSD", ["Redistribution and use in source and binary forms", "Redistributions of source code must retain"]),
    ("AGPL-3.0", ["GNU AFFERO GENERAL PUBLIC LICENSE", "Version 3"]),
    ("LGPL-3.0", ["GNU LESSER GENERAL PUBLIC LICENSE", "Version 3"]),
    ("GPL-3.0", ["GNU GENERAL PUBLIC LICENSE", "Version 3"]),
]
# create-plugin's README template (templates/common/README.md) phrases.
TEMPLATE_README = [
    "This template is a starting point for building",
    "<!-- This README file is going to be the one displayed on the Grafana.com website",
    "Grafana data source plugin template",
    "{{ pluginName }}",
    "%PLUGIN_ID%",
]
# SVG elements/attributes allowed (the validator's unsafesvg allow-list is a
# sanitizer's SVG profile; scripts, foreignObject, event handlers, external
# references are what it rejects).
SVG_ELEMENTS = {
    "svg", "g", "defs", "title", "desc", "metadata", "path", "rect", "circle", "ellipse", "line", "polyline",
    "polygon", "text", "tspan", "textPath", "linearGradient", "radialGradient", "stop", "clipPath", "mask", "pattern",
    "symbol", "use", "marker", "filter", "feGaussianBlur", "feOffset", "feBlend", "feColorMatrix", "feMerge",
    "feMergeNode", "feFlood", "feComposite", "style",
}

results = []  # (status, rule, detail)


def rule(name, ok, detail=""):
    results.append(("ok" if ok else "FAIL", name, detail))
    return ok


def warn(name, detail):
    results.append(("warn", name, detail))


def local(tag):
    return tag.split("}", 1)[-1] if isinstance(tag, str) else ""


def svg_problems(data):
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        return [f"not well-formed XML: {e}"]
    if b"<!ENTITY" in data or b"<!DOCTYPE" in data:
        return ["DOCTYPE/ENTITY declarations"]
    probs = []
    if local(root.tag) != "svg":
        probs.append(f"root element {local(root.tag)}")
    for el in root.iter():
        name = local(el.tag)
        if name not in SVG_ELEMENTS:
            probs.append(f"element <{name}>")
        for attr, val in el.attrib.items():
            a = local(attr).lower()
            if a.startswith("on"):
                probs.append(f"event handler {a} on <{name}>")
            if a == "href" and not val.startswith("#"):
                probs.append(f"external reference {val!r}")
            if "javascript:" in val.lower() or "url(http" in val.lower().replace(" ", ""):
                probs.append(f"unsafe value in {a}")
        if name == "style" and el.text and ("@import" in el.text or "url(" in el.text):
            probs.append("style with @import/url()")
    return probs


def valid_range(r):
    """npm semver range: comparator sets joined by ||, hyphen ranges allowed."""
    if not isinstance(r, str) or not r.strip():
        return False
    for alt in r.split("||"):
        alt = alt.strip()
        if not alt:
            return False
        m = re.fullmatch(r"(\S+)\s+-\s+(\S+)", alt)
        parts = [m.group(1), m.group(2)] if m else re.split(r"\s+", alt)
        for p in parts:
            if p in ("*", "x", "X") or COMPARATOR_RE.match(p):
                continue
            return False
    return True


def check(path):
    try:
        zf = zipfile.ZipFile(path)
        infos = zf.infolist()
    except (OSError, zipfile.BadZipFile) as e:
        rule("archive-readable", False, str(e))
        return
    rule("archive-readable", True)
    names = [i.filename for i in infos]
    if not rule("archive-not-empty", bool(names)):
        return
    tops = {n.split("/", 1)[0] for n in names}
    top_files = [n for n in names if "/" not in n]
    single = len(tops) == 1 and not top_files
    if not rule("single-root-dir", single, f"top level: {sorted(tops)[:5]}"):
        return
    root = tops.pop()
    rule("root-dir-not-dist", root != "dist")
    rule("no-nested-dist-dir", not any(n.startswith(f"{root}/dist/") for n in names), "legacy dist/ inside the root")
    files = {n[len(root) + 1:]: i for n, i in zip(names, infos) if not n.endswith("/")}

    def read(rel):
        return zf.read(files[rel]) if rel in files else None

    # --- metadata ---------------------------------------------------------
    raw = read("plugin.json")
    if not rule("metadata-present", raw is not None, "plugin.json at the root"):
        return
    try:
        meta = json.loads(raw)
        ok = isinstance(meta, dict)
    except ValueError as e:
        meta, ok = {}, False
        rule("metadata-parses", False, str(e))
        return
    rule("metadata-parses", ok)
    if not ok:
        return
    info = meta.get("info") if isinstance(meta.get("info"), dict) else {}
    deps = meta.get("dependencies") if isinstance(meta.get("dependencies"), dict) else {}
    pid = meta.get("id", "")
    missing = [k for k in ("type", "name", "id", "info", "dependencies") if k not in meta]
    rule("schema-required-keys", not missing, f"missing {missing}")
    rule("schema-type", meta.get("type") in TYPES, str(meta.get("type")))
    rule("schema-id-pattern", isinstance(pid, str) and bool(ID_RE.match(pid)), str(pid))
    logos = info.get("logos") if isinstance(info.get("logos"), dict) else {}
    imiss = [k for k in ("logos", "version", "updated", "keywords") if k not in info]
    rule("schema-info-required", not imiss, f"info lacks {imiss}")
    rule("schema-info-version", isinstance(info.get("version"), str) and bool(SEMVER_RE.match(info["version"])), str(info.get("version")))
    rule("schema-info-updated", isinstance(info.get("updated"), str) and bool(DATE_RE.match(info["updated"])), str(info.get("updated")))
    kw = info.get("keywords")
    rule("schema-info-keywords", isinstance(kw, list) and len(kw) >= 1 and all(isinstance(k, str) and k for k in kw))
    gd = deps.get("grafanaDependency")
    rule("grafana-dependency", valid_range(gd), str(gd))
    if isinstance(gd, str) and re.fullmatch(r"=?\d+\.\d+\.\d+", gd.strip()):
        warn("restrictive-dependency", f"{gd} pins one release")
    rule("archive-name", root == pid, f"root {root!r} vs id {pid!r}")
    parts = pid.split("-") if isinstance(pid, str) else []
    name = meta.get("name")
    rule("plugin-name", len(parts) >= 3 and isinstance(name, str) and name.strip() != "" and name != pid, f"id {pid!r} name {name!r}")
    rule("type-suffix", isinstance(pid, str) and pid.endswith("-" + str(meta.get("type"))))
    # every path in plugin.json is relative and exists
    paths = [logos.get("small"), logos.get("large")]
    paths += [s.get("path") for s in info.get("screenshots") or [] if isinstance(s, dict)]
    paths += [i.get("path") for i in meta.get("includes") or [] if isinstance(i, dict) and i.get("path")]
    bad = [p for p in paths if not isinstance(p, str) or p.startswith("/") or ".." in p.split("/") or p not in files]
    rule("metadata-paths", not bad, f"missing or absolute: {bad}")
    rule("logos", bool(logos.get("small")) and bool(logos.get("large")))
    shots = info.get("screenshots") or []
    if not shots:
        warn("screenshots", "none listed")
    for s in shots:
        p = s.get("path", "") if isinstance(s, dict) else ""
        rule(f"screenshot-image {p}", p.lower().endswith((".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")))
    for inc in meta.get("includes") or []:
        if isinstance(inc, dict) and inc.get("type") == "dashboard" and inc.get("path") in files:
            try:
                d = json.loads(read(inc["path"]))
                rule(f"include-dashboard {inc['path']}", isinstance(d, dict) and "panels" in d)
            except ValueError as e:
                rule(f"include-dashboard {inc['path']}", False, str(e))
    rule("discoverability", bool(info.get("description")) and bool(kw), "info.description and keywords")
    links = info.get("links") or []
    rule("safe-links", all(isinstance(l, dict) and str(l.get("url", "")).startswith("https://") for l in links))

    # --- backend ------------------------------------------------------------
    backend, exe, alerting = meta.get("backend"), meta.get("executable"), meta.get("alerting")
    rule("alerting-needs-backend", not alerting or backend is True)
    rule("executable-needs-backend", not exe or backend is True)
    rule("backend-needs-executable", backend is not True or bool(exe))
    if exe:
        binname = f"{exe}_linux_amd64"
        data = read(binname)
        rule("backend-binary-linux-amd64", data is not None and data[:4] == b"\x7fELF" and data[4] == 2
             and int.from_bytes(data[18:20], "little") == 62, f"{binname} (ELF64 x86-64)")
        exes = [r for r in files if r.split("/")[-1].startswith(exe) and not r.endswith(".exe")]
        badmode = [f"{r}:{oct(stat.S_IMODE(files[r].external_attr >> 16))}" for r in exes
                   if stat.S_IMODE(files[r].external_attr >> 16) != 0o755]
        rule("binary-permissions", bool(exes) and not badmode, f"not 0755: {badmode}")
    libs = [r for r in files if r.startswith("lib/")]
    notelf = [r for r in libs if (read(r) or b"")[:4] != b"\x7fELF"]
    rule("bundled-libs-elf", not notelf, f"{notelf[:5]}")
    rule("backend-debug", not any(r.split("/")[-1] in ("standalone.txt", "pid.txt") for r in files))

    # --- frontend and documents -------------------------------------------
    rule("module-js", any(r == "module.js" or r.endswith("/module.js") for r in files))
    svgs = [r for r in files if r.lower().endswith(".svg")]
    for r in svgs:
        probs = svg_problems(read(r))
        rule(f"safe-svg {r}", not probs, "; ".join(probs[:3]))
    readme = (read("README.md") or b"").decode("utf-8", "replace")
    rule("readme", readme.strip() != "", "README.md present and non-empty")
    rule("readme-not-template", readme.strip() != "" and not any(t in readme for t in TEMPLATE_README))
    if "<!--" in readme:
        warn("readme-html-comments", "HTML comments left in README.md")
    rule("changelog", "CHANGELOG.md" in files)
    lic = (read("LICENSE") or read("LICENSE.md") or read("LICENSE.txt") or b"").decode("utf-8", "replace")
    kind = next((n for n, ph in LICENSES if all(p in lic for p in ph)), None)
    rule("license", kind is not None, "LICENSE missing or not BSD/MIT/Apache-2.0/LGPL3/GPL3/AGPL3")
    if re.search(r"\{(yyyy|year|name of copyright owner|fullname)\}", lic, re.I):
        warn("license-placeholders", "{yyyy}-style placeholders")
    if "MANIFEST.txt" not in files:
        warn("unsigned-plugin", "no MANIFEST.txt (allow-list the id in allow_loading_unsigned_plugins)")


def main():
    if len(sys.argv) != 2:
        print("usage: check_archive.py PLUGIN.zip", file=sys.stderr)
        return 2
    try:
        check(sys.argv[1])
    except Exception as e:  # a checker bug must show as a failure, not a traceback-only exit
        rule("checker-ran", False, f"{type(e).__name__}: {e}")
    for status, name, detail in results:
        print(f"{status:<4} {name}" + (f": {detail}" if detail and status != "ok" else ""))
    p = sum(1 for s, _, _ in results if s == "ok")
    f = sum(1 for s, _, _ in results if s == "FAIL")
    print(f"archive: {p} passed, {f} failed")
    return 1 if f else 0


if __name__ == "__main__":
    sys.exit(main())
