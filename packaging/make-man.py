#!/usr/bin/python3
"""Writes the ringway(8) manual page (roff) from `ringway --help` and the configuration
reference in Markdown.

    make-man.py --binary build/release/ringway --markdown docs/configuration.md > ringway.8

--help gives NAME, SYNOPSIS, OPTIONS, SIGNALS and most of ENVIRONMENT; the Markdown file gives
CONFIGURATION. The Markdown read is the subset the reference uses: ATX headings, paragraphs,
pipe tables, fenced code blocks, bullet and numbered lists, inline code, bold, italics and links.
Tables become tagged paragraphs (one per row: the first cell as the tag, the other cells below
it), which read better in 80 columns than tbl tables and need no preprocessor.
"""

import argparse
import datetime
import os
import re
import subprocess
import sys

# Environment variables the page describes. The ones --help names (`env NAME` in an option's
# text) are described from that option; the rest need a mention in --help or the reference,
# else they are left out (with a note on stderr), so the page never names a variable the
# binary does not read.
ENVIRONMENT_VARIABLES = ["CONFIG_PATH", "WORKER_THREADS", "RINGWAY_ADMIN", "RINGWAY_LOG",
                         "RUST_LOG"]


# ---------------------------------------------------------------------------------------------
# roff text


def escape(text):
    """Plain text to roff: backslashes doubled as \\e, and nothing else special."""
    return text.replace("\\", "\\e")


def literal(text):
    """Text shown as typed (options, code): roff escapes plus real minus signs."""
    return escape(text).replace("-", "\\-")


_OPTION_WORD = re.compile(r"(?<![\w\\-])(--?)(?=[A-Za-z])")


def prose(text):
    """Prose: escaped, with the dashes of option-like words (-c, --config) as minus signs."""
    return _OPTION_WORD.sub(lambda m: "\\-" * len(m.group(1)), escape(text))


def help_prose(text):
    """Text of --help: `code` bold, the rest as prose."""
    parts = re.split(r"(`[^`]+`)", text)
    return "".join("\\fB" + literal(p[1:-1]) + "\\fR" if len(p) > 1 and p[0] == p[-1] == "`"
                   else prose(p) for p in parts)


def line_safe(line):
    """A text line that roff will not read as a request or a break."""
    line = line.strip()
    if line.startswith((".", "'")):
        line = "\\&" + line
    return line


def macro_arg(text):
    """One quoted macro argument."""
    return '"' + text.replace('"', "\\(dq") + '"'


# ---------------------------------------------------------------------------------------------
# Markdown inline


_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_HTML_TAG = re.compile(r"</?(a|br|span|div|sup|sub|kbd|details|summary)\b[^>]*>", re.I)


class Inline:
    def __init__(self, doc_dir):
        self.doc_dir = doc_dir

    def link_target(self, text, target):
        """What a link becomes: its text, and for another document or a URL, where to find it."""
        if target.startswith("#"):
            return text, None
        if re.match(r"[a-z]+:", target):
            return text, target
        base = os.path.basename(target.split("#", 1)[0])
        if base.endswith(".md"):
            where = os.path.join(self.doc_dir, base + ".gz")
        else:
            where = base
        plain = text.strip("`")
        if plain.endswith(base):
            return None, where
        return text, where

    def convert(self, text):
        """Markdown inline text to roff. Code spans are literal; outside them, links lose their
        targets (or keep a readable one), HTML anchors vanish, **bold** and *italic* are set."""
        out = []
        # Links first, so that code spans inside link texts are kept.
        pieces = []
        pos = 0
        for m in _LINK.finditer(text):
            pieces.append(text[pos:m.start()])
            shown, where = self.link_target(m.group(1), m.group(2))
            if shown is None:
                pieces.append("\x01" + where + "\x02")
            elif where is None:
                pieces.append(shown)
            else:
                pieces.append("%s (\x01%s\x02)" % (shown, where))
            pos = m.end()
        pieces.append(text[pos:])
        text = "".join(pieces)
        text = _HTML_TAG.sub("", text)

        parts = re.split(r"(`[^`]+`|\x01[^\x02]*\x02)", text)
        for part in parts:
            if not part:
                continue
            if part.startswith("`") and part.endswith("`") and len(part) >= 2:
                out.append("\\fB" + literal(part[1:-1]) + "\\fR")
            elif part.startswith("\x01"):
                # A URL or a path: may break after a slash.
                out.append("\\fI" + literal(part[1:-1]).replace("/", "/\\:") + "\\fR")
            else:
                s = prose(part)
                s = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", s)
                s = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\\fI\1\\fR", s)
                s = re.sub(r"(?<![\w_])_([^_\s][^_]*)_(?![\w_])", r"\\fI\1\\fR", s)
                out.append(s)
        return "".join(out)


# ---------------------------------------------------------------------------------------------
# Markdown blocks


def split_row(line):
    """The cells of one pipe-table row (`\\|` is a literal bar)."""
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells = re.split(r"(?<!\\)\|", line)
    return [c.strip().replace("\\|", "|") for c in cells]


_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^(\s*)(\d+)[.)]\s+(.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_to_roff(markdown, inline, top_level_skip=True):
    """The body of a section: Markdown blocks as roff requests."""
    lines = markdown.splitlines()
    out = []
    i = 0
    n = len(lines)
    first_heading = True

    def paragraph(text_lines):
        text = " ".join(l.strip() for l in text_lines)
        text = re.sub(r"\s+", " ", text).strip()
        if text:
            out.append(".PP")
            out.append(line_safe(inline.convert(text)))

    while i < n:
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
            continue
        if re.fullmatch(r"<a\b[^>]*>\s*</a>", stripped) or re.fullmatch(r"<!--.*-->", stripped):
            i += 1
            continue
        m = _FENCE.match(line)
        if m:
            fence = m.group(1)
            i += 1
            body = []
            while i < n and not lines[i].strip().startswith(fence):
                body.append(lines[i].rstrip())
                i += 1
            i += 1  # the closing fence
            out.append(".PP")
            out.append(".RS 4")
            out.append(".nf")
            for b in body:
                b = b.expandtabs(8)
                out.append("\\&" + literal(b) if b else "")
            out.append(".fi")
            out.append(".RE")
            continue
        m = _HEADING.match(line)
        if m:
            level = len(m.group(1))
            title = m.group(2)
            i += 1
            if level == 1 and first_heading and top_level_skip:
                first_heading = False
                continue
            first_heading = False
            text = inline.convert(title)
            if level <= 3:
                out.append(".SS " + macro_arg(text))
            else:
                out.append(".PP")
                out.append("\\fB" + text.replace("\\fR", "\\fB") + "\\fR")
            continue
        if stripped.startswith("|") and i + 1 < n and _TABLE_RULE.match(lines[i + 1]):
            header = split_row(lines[i])
            i += 2
            rows = []
            while i < n and lines[i].strip().startswith("|"):
                rows.append(split_row(lines[i]))
                i += 1
            table_to_roff(header, rows, inline, out)
            continue
        mb = _BULLET.match(line)
        mn = _NUMBERED.match(line)
        if mb or mn:
            # One list item with its continuation lines (indented, or lazy ones that are not a
            # new block).
            if mb:
                indent = len(mb.group(1))
                mark, width, item = "\\(bu", 2, [mb.group(2)]
            else:
                indent = len(mn.group(1))
                mark, width, item = mn.group(2) + ".", 4, [mn.group(3)]
            i += 1
            while i < n:
                nxt = lines[i]
                if not nxt.strip():
                    break
                if _BULLET.match(nxt) or _NUMBERED.match(nxt):
                    break  # the next item, or a nested list
                if _HEADING.match(nxt) or _FENCE.match(nxt) or nxt.strip().startswith("|"):
                    break
                item.append(nxt)
                i += 1
            text = re.sub(r"\s+", " ", " ".join(l.strip() for l in item)).strip()
            nested = indent > 0
            if nested:
                out.append(".RS %d" % width)
            out.append(".IP %s %d" % (mark, width))
            out.append(line_safe(inline.convert(text)))
            if nested:
                out.append(".RE")
            continue
        if stripped.startswith(">"):
            quote = []
            while i < n and lines[i].strip().startswith(">"):
                quote.append(lines[i].strip()[1:])
                i += 1
            out.append(".RS 4")
            paragraph(quote)
            out.append(".RE")
            continue
        # A paragraph: up to a blank line or the start of another block.
        para = [line]
        i += 1
        while i < n:
            nxt = lines[i]
            if not nxt.strip():
                break
            if (_HEADING.match(nxt) or _FENCE.match(nxt) or _BULLET.match(nxt)
                    or _NUMBERED.match(nxt)
                    or (nxt.strip().startswith("|") and i + 1 < n
                        and _TABLE_RULE.match(lines[i + 1]))):
                break
            para.append(nxt)
            i += 1
        paragraph(para)
    return out


def table_to_roff(header, rows, inline, out):
    """A table as tagged paragraphs: the first cell is the tag; then the middle cells as
    "header: value" pairs on one line, and the last cell (the meaning) as text of its own."""
    for row in rows:
        row = row + [""] * (len(header) - len(row))
        tag = inline.convert(row[0]) or "\\&"
        out.append(".TP")
        out.append(line_safe(tag))
        out.append(".br")  # the text below the tag, even when the tag is short
        if len(header) == 1:
            continue
        middle = []
        for name, value in zip(header[1:-1], row[1:-1]):
            if value:
                middle.append("%s: %s" % (inline.convert(name), inline.convert(value)))
        last = inline.convert(row[len(header) - 1]) if len(header) > 1 else ""
        if middle:
            out.append(line_safe("\\fI" + "; ".join(middle).replace("\\fR", "\\fI") + "\\fR"))
            if last:
                out.append(".br")
        if last:
            out.append(line_safe(last))


# ---------------------------------------------------------------------------------------------
# --help


_OPTION_LINE = re.compile(
    r"^\s{1,9}((?:-[A-Za-z0-9], )?--[A-Za-z0-9][A-Za-z0-9-]*(?: [A-Z][A-Z_|]*)?)"
    r"(?:\s+([^A-Z\s].*|[A-Z][^A-Z_|\s].*)|\s*$)")


class Help:
    """What `ringway --help` says, in parts."""

    def __init__(self, text):
        self.text = text
        lines = text.splitlines()
        self.name = "ringway"
        self.summary = ""
        self.version = ""
        m = re.match(r"^(\S+) (\S+): (.*)$", lines[0]) if lines else None
        if m:
            self.name, self.version, self.summary = m.group(1), m.group(2), m.group(3)
        self.usage = []
        self.options = []  # (spec, description)
        self.signals = ""
        self.environment = ""
        self.other = []  # lines no part took
        i = 1
        while i < len(lines):
            line = lines[i]
            if line.startswith("usage:"):
                self.usage.append(line[len("usage:"):].strip())
                i += 1
                while i < len(lines) and lines[i].startswith(" ") and lines[i].strip() \
                        and not _OPTION_LINE.match(lines[i]):
                    self.usage.append(lines[i].strip())
                    i += 1
                continue
            m = _OPTION_LINE.match(line)
            if m:
                spec, desc = m.group(1), [m.group(2) or ""]
                i += 1
                while i < len(lines) and re.match(r"^\s{10,}\S", lines[i]) \
                        and not _OPTION_LINE.match(lines[i]):
                    desc.append(lines[i].strip())
                    i += 1
                self.options.append((spec, " ".join(d for d in desc if d).strip()))
                continue
            if line.startswith("Environment:"):
                block = [line[len("Environment:"):].strip()]
                i += 1
                while i < len(lines) and lines[i].strip():
                    block.append(lines[i].strip())
                    i += 1
                self.environment = " ".join(block)
                continue
            if line.startswith("Signals:"):
                block = [line[len("Signals:"):].strip()]
                i += 1
                while i < len(lines) and lines[i].strip():
                    block.append(lines[i].strip())
                    i += 1
                self.signals = " ".join(block)
                continue
            if line.strip():
                self.other.append(line)
            i += 1


def option_spec_roff(spec):
    """`-c, --config FILE` as roff: options bold, arguments italic."""
    out = []
    for part in spec.split(", "):
        words = part.split(" ", 1)
        s = "\\fB" + literal(words[0]) + "\\fR"
        if len(words) == 2:
            s += " \\fI" + literal(words[1]) + "\\fR"
        out.append(s)
    return ", ".join(out)


def synopsis_roff(usage_lines, name):
    """The usage lines with options bold and arguments italic, kept on their lines."""
    out = [".nf"]
    for idx, line in enumerate(usage_lines):
        text = line
        if text.startswith(name + " "):
            text = text[len(name) + 1:]
            prefix = "\\fB" + literal(name) + "\\fR "
            # A subcommand: its words up to the first option, bold.
            m = re.match(r"([a-z][a-z ]*?)(?= \[|$)", text)
            if m:
                prefix += "\\fB" + literal(m.group(1)) + "\\fR"
                text = text[m.end():]
        else:
            prefix = "        "

        def opt(m):
            words = m.group(1).split(" ", 1)
            s = "\\fB" + literal(words[0]) + "\\fR"
            if len(words) == 2:
                arg = words[1]
                s += " " + "|".join("\\fI" + literal(a) + "\\fR" if a.isupper() else
                                    "\\fB" + literal(a) + "\\fR" for a in arg.split("|"))
            return "[" + s + "]"
        text = re.sub(r"\[([^\]]+)\]", opt, text)
        out.append(prefix + text)
    out.append(".fi")
    return out


def split_sentences(text):
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text) if s.strip()]


def signals_roff(signals_text):
    """Sentences that begin with signal names become tagged paragraphs; the rest follow as a
    paragraph."""
    out = []
    rest = []
    for sentence in split_sentences(signals_text):
        m = re.match(r"^((?:SIG[A-Z0-9]+)(?:(?:,\s*|\s+or\s+|\s+and\s+)SIG[A-Z0-9]+)*)\s+(.*)$",
                     sentence)
        if m:
            names = re.findall(r"SIG[A-Z0-9]+", m.group(1))
            body = m.group(2)
            body = body[0].upper() + body[1:]
            out.append(".TP")
            out.append(", ".join("\\fB" + n + "\\fR" for n in names))
            out.append(line_safe(help_prose(body)))
        else:
            rest.append(sentence)
    if rest:
        out.append(".PP")
        out.append(line_safe(help_prose(" ".join(rest))))
    return out


def environment_roff(help_, reference, names, note):
    out = []
    described = set()
    others = {}  # sentence -> the variables it names
    for name in names:
        for spec, desc in help_.options:
            if re.search(r"\benv\s+%s\b" % re.escape(name), desc):
                option = spec.split(", ")[-1].split(" ")[0]
                what = re.sub(r"\s*\(?\benv\s+%s\b[;,]?\s*" % re.escape(name), " (", desc)
                what = re.sub(r"\(\s*\)", "", what)
                what = re.sub(r"\(\s*", "(", what).replace(" )", ")").strip()
                what = re.sub(r"\s+", " ", what)
                out.append(".TP")
                out.append("\\fB" + name + "\\fR")
                out.append(line_safe("Used when \\fB" + literal(option) +
                                     "\\fR is not given: " + help_prose(what.rstrip(".")) + "."))
                described.add(name)
                break
        if name in described:
            continue
        # Named elsewhere: the sentence that names it, from --help's Environment paragraph,
        # else from the rest of --help, else from the reference.
        found = None
        for source in (help_.environment, help_.text, reference):
            flat = re.sub(r"\s+", " ", source)
            for sentence in split_sentences(flat):
                if re.search(r"\b%s\b" % re.escape(name), sentence):
                    found = sentence
                    break
            if found:
                break
        if found:
            others.setdefault(found, []).append(name)
            described.add(name)
        else:
            note["left_out"].append(name)
    # Variables one sentence describes together share one entry.
    for sentence, group in others.items():
        out.append(".TP")
        out.append(", ".join("\\fB" + n + "\\fR" for n in group))
        out.append(line_safe(Inline(note["doc_dir"]).convert(sentence)))
    out.append(".TP")
    out.append("\\fBNOTIFY_SOCKET\\fR")
    out.append("Set by systemd for \\fBType=notify\\fR services: ringway reports "
               "\\fBREADY=1\\fR, \\fBRELOADING=1\\fR and \\fBSTOPPING=1\\fR there.")
    return out


# ---------------------------------------------------------------------------------------------


def build_page(help_text, reference, version, date, doc_dir):
    help_ = Help(help_text)
    version = version or help_.version
    inline = Inline(doc_dir)
    note = {"doc_dir": doc_dir, "left_out": []}
    out = []
    out.append(".\\\" Generated by packaging/make-man.py from `ringway --help` and "
               "docs/configuration.md; edit those, not this file.")
    out.append(".TH RINGWAY 8 %s %s %s" % (macro_arg(date), macro_arg("ringway " + version),
                                          macro_arg("System Administration")))
    out.append(".nh")
    out.append(".ad l")
    out.append(".SH NAME")
    out.append("ringway \\- " + prose(help_.summary or "reverse proxy and load balancer"))

    out.append(".SH SYNOPSIS")
    if help_.usage:
        out += synopsis_roff(help_.usage, help_.name)
    else:
        out.append("\\fBringway\\fR [\\fIoptions\\fR]")

    out.append(".SH DESCRIPTION")
    out.append(".PP")
    out.append("\\fBringway\\fR is a reverse proxy and load balancer for HTTP/1.1 and HTTP/2, "
               "built on Linux io_uring. It runs one worker thread per CPU (or as many as "
               "configured), each with its own ring, listening sockets, buffers and upstream "
               "connection pools. It routes requests by host name and path prefix to pools of "
               "backends, checks their health, retries failed requests on other backends, "
               "terminates TLS, and serves an admin API with Prometheus metrics and a "
               "dashboard.")
    out.append(".PP")
    out.append("The configuration is one file (see \\fBCONFIGURATION\\fR below). It is "
               "checked completely before anything starts; a file with an error is refused "
               "with its file, line and column and what to change. The whole configuration "
               "can be reloaded without a restart, and a new binary can take over the "
               "listening sockets without dropping a connection (see \\fBSIGNALS\\fR).")
    out.append(".PP")
    out.append("ringway needs io_uring. Where the kernel lacks it or it is disabled "
               "(\\fI/proc/sys/kernel/io_uring_disabled\\fR, a seccomp filter, a container "
               "policy), ringway says so and exits 1; it has no epoll fallback.")

    out.append(".SH OPTIONS")
    for spec, desc in help_.options:
        out.append(".TP")
        out.append(option_spec_roff(spec))
        out.append(line_safe(help_prose(desc[0].upper() + desc[1:] if desc else desc)))
    if help_.other:
        out.append(".PP")
        out.append(".nf")
        for line in help_.other:
            out.append("\\&" + literal(line.rstrip()))
        out.append(".fi")

    out.append(".SH CONFIGURATION")
    out += markdown_to_roff(reference, inline)

    out.append(".SH SIGNALS")
    if help_.signals:
        out += signals_roff(help_.signals)
    out.append(".PP")
    out.append("Under systemd: \\fBsystemctl reload ringway\\fR sends SIGHUP, \\fBsystemctl "
               "stop ringway\\fR SIGTERM; once the binary was replaced, a binary upgrade "
               "is started with")
    out.append(".PP")
    out.append(".RS 4")
    out.append(".nf")
    out.append("systemctl kill \\-\\-kill\\-whom=main \\-\\-signal=SIGUSR2 ringway")
    out.append(".fi")
    out.append(".RE")

    out.append(".SH EXIT STATUS")
    out.append(".PP")
    out.append("0 after a graceful stop, and with \\fB\\-\\-validate\\fR for a valid file; "
               "1 when the configuration is invalid or ringway cannot start (no io_uring, an "
               "address in use, a certificate that cannot be read).")

    out.append(".SH ENVIRONMENT")
    out += environment_roff(help_, reference, ENVIRONMENT_VARIABLES, note)

    out.append(".SH FILES")
    files = [
        ("/etc/ringway/ringway.yaml", "The configuration file (default of \\fB\\-\\-config\\fR)."),
        ("/lib/systemd/system/ringway.service",
         "The systemd unit: runs ringway as user \\fBringway\\fR with "
         "\\fBCAP_NET_BIND_SERVICE\\fR (ports below 1024), \\fBType=notify\\fR."),
        ("/var/lib/ringway/",
         "State directory of the service, writable by it. The packaged configuration keeps "
         "the admin API's changes there across restarts "
         "(\\fBglobal.state_file: /var/lib/ringway/state.json\\fR)."),
        ("/var/log/ringway/",
         "For \\fBglobal.log.access_log\\fR set to a file; rotated by "
         "\\fI/etc/logrotate.d/ringway\\fR, which sends SIGUSR1."),
        (doc_dir + "/", "The configuration reference and the admin API reference in Markdown."),
    ]
    for path, text in files:
        out.append(".TP")
        out.append("\\fI" + literal(path) + "\\fR")
        out.append(text)

    out.append(".SH SEE ALSO")
    out.append(".BR systemctl (1),")
    out.append(".BR systemd.exec (5),")
    out.append(".BR systemd.service (5),")
    out.append(".BR logrotate (8),")
    out.append(".BR io_uring (7)")
    out.append(".PP")
    out.append("\\fI" + literal(doc_dir) + "/admin\\-api.md.gz\\fR: every admin API endpoint, "
               "the metrics and the state file.")
    return "\n".join(out) + "\n", note["left_out"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--binary", help="the ringway binary to run with --help")
    src.add_argument("--help-text", help="a file holding the output of ringway --help")
    ap.add_argument("--markdown", required=True, help="docs/configuration.md")
    ap.add_argument("--version", help="the version in the page's header (default: --help's)")
    ap.add_argument("--date", help="YYYY-MM-DD (default: SOURCE_DATE_EPOCH, else today)")
    ap.add_argument("--doc-dir", default="/usr/share/doc/ringway",
                    help="where the package installs the Markdown documents")
    ap.add_argument("-o", "--output", help="write here instead of stdout")
    args = ap.parse_args()

    if args.binary:
        help_text = subprocess.run([args.binary, "--help"], check=True, stdout=subprocess.PIPE,
                                   env=dict(os.environ, LC_ALL="C")).stdout.decode()
    else:
        with open(args.help_text, encoding="utf-8") as f:
            help_text = f.read()
    with open(args.markdown, encoding="utf-8") as f:
        reference = f.read()
    date = args.date
    if not date:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        when = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch
                else datetime.datetime.now(datetime.timezone.utc))
        date = when.strftime("%Y-%m-%d")
    page, left_out = build_page(help_text, reference, args.version, date, args.doc_dir)
    for name in left_out:
        print("make-man.py: %s is named neither by --help nor by %s; left out of ENVIRONMENT"
              % (name, os.path.basename(args.markdown)), file=sys.stderr)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(page)
    else:
        sys.stdout.write(page)


if __name__ == "__main__":
    main()
