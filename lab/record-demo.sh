#!/bin/sh
# Records demo.tape without VHS (VHS needs ttyd and a browser): the tape's
# keystrokes are replayed (lab/fleet/tape/replay) into a tmux pane of the
# tape's size in which asciinema records a shell; the cast is rendered to an
# animated SVG with svg-term-cli. Writes docs/demo.cast and docs/demo.svg.
#
# Needs: go, tmux, asciinema (Debian package), svg-term (npm svg-term-cli;
# SVG_TERM=path/to/svg-term, default: npx --yes -p svg-term-cli svg-term).
# Optional: chromium, for docs/demo.png-style checks (SHOT=file.png writes a
# screenshot of the last frame to look at before committing).
#
# Regenerate whenever the screens change: lab/record-demo.sh
set -eu
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d)
sock=$work/tmux.sock
cleanup() {
	tmux -S "$sock" kill-server 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

go build -o "$work/hawiz" ./cmd/hawiz
go build -o "$work/replay" ./lab/fleet/tape/replay
size=$(sed -n 's/^# *Terminal: *\([0-9][0-9]*x[0-9][0-9]*\).*/\1/p' demo.tape | head -n 1)
cols=${size%x*}
rows=${size#*x}
# The demo's root goes in /tmp, where a user's demo goes, so the recording
# shows /tmp/hawiz-demo-UID/…, never this script's temporary directory; a
# demo kept there (an unfinished run) is not touched: finish or remove it.
rec_tmp=/tmp
if [ -e "$rec_tmp/hawiz-demo-$(id -u)" ]; then
	echo "record-demo: $rec_tmp/hawiz-demo-$(id -u) exists (a kept demo): finish it (hawiz demo) or remove it first" >&2
	exit 1
fi
cast=$repo/docs/demo.cast
mkdir -p "$repo/docs"
rm -f "$cast"

printf 'set -g status off\n' >"$work/tmux.conf"
# stty tab3: the tty expands tabs, so bubbletea moves the cursor without
# hard tabs: svg-term's terminal (asciinema-player's old vt) sets its tab
# stops differently from xterm and tmux, and a frame drawn with tabs kept
# stale characters on screen ("…change record.in the DNS…").
tmux -S "$sock" -f "$work/tmux.conf" new-session -d -s rec -x "$cols" -y "$rows" \
	"cd '$work' && env -i HOME='$work' TMPDIR='$rec_tmp' TERM=xterm-256color LANG=C.UTF-8 USER=demo HISTFILE=/dev/null PS1='\$ ' PATH='$PATH' \
	asciinema rec --quiet --overwrite --idle-time-limit 3 --cols $cols --rows $rows -c 'stty tab3; exec bash --norc --noprofile' '$cast'"
sleep 1
"$work/replay" -S "$sock" -t rec demo.tape
# Leave the finish screen, then end the shell and with it the recording.
tmux -S "$sock" send-keys -t rec Enter
sleep 2
tmux -S "$sock" send-keys -t rec -l 'exit'
tmux -S "$sock" send-keys -t rec Enter
i=0
while tmux -S "$sock" has-session -t rec 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "record-demo: the recording did not end" >&2; exit 1; }
	sleep 0.1
done
[ -s "$cast" ] || { echo "record-demo: no cast written" >&2; exit 1; }
if grep -q "$work" "$cast"; then
	echo "record-demo: the cast shows the recorder's temporary directory $work" >&2
	exit 1
fi
if ls "$rec_tmp/hawiz-demo-$(id -u)" >/dev/null 2>&1; then
	echo "record-demo: the demo left files behind in its TMPDIR" >&2
	exit 1
fi

# Tidy the cast for players: drop keyboard-protocol sequences (CSI > 4 m,
# CSI > 1 u …: invisible, but svg-term reads "CSI > 4;2 m" as underline), and
# end it on the finish screen, held for 5 s (what follows is the exit).
python3 - "$cast" <<'PY'
import json, re, sys
path = sys.argv[1]
lines = open(path, encoding="utf-8").read().splitlines()
header, events = lines[0], [json.loads(l) for l in lines[1:]]
kbd = re.compile(r"\x1b\[[<>=][0-9;]*[mu]")
for e in events:
    e[2] = kbd.sub("", e[2])
# Start at the tape's first clear (its Hide'n setup is not shown).
first = next((i for i, e in enumerate(events) if "\x1b[2J" in e[2] or "\x1b[3J" in e[2]), 0)
t0 = events[first][0]
events = [[e[0] - t0, e[1], e[2]] for e in events[first:]]
done = max((i for i, e in enumerate(events) if "every step verified" in e[2]), default=None)
if done is None:
    sys.exit("record-demo: the cast never shows the finished run")
events = events[: done + 1]
events.append([events[-1][0] + 5.0, "o", ""])
with open(path, "w", encoding="utf-8") as f:
    f.write(header + "\n")
    for e in events:
        f.write(json.dumps(e, ensure_ascii=False) + "\n")
PY

svgterm=${SVG_TERM:-npx --yes -p svg-term-cli svg-term}
$svgterm --in "$cast" --out "$repo/docs/demo.svg" --window --no-cursor --width "$cols" --height "$rows"
# svg-term lays the frames side by side, $cols units apart, in nested <svg>
# elements without a width: a glyph in a frame's last column overhangs into
# the next frame's first one (faint marks at the left edge). Give every frame
# its width, so each clips to itself.
python3 - "$repo/docs/demo.svg" "$cols" <<'PY'
import re, sys
path, cols = sys.argv[1], sys.argv[2]
svg = open(path, encoding="utf-8").read()
m = re.search(r'<svg width="\d+">', svg)
if m is None:
    sys.exit("record-demo: docs/demo.svg has no frame strip (svg-term's layout changed?)")
head, strip = svg[: m.end()], svg[m.end() :]
strip, n = re.subn(r'<svg( x="\d+")?>', lambda f: '<svg%s width="%s">' % (f.group(1) or "", cols), strip)
if n < 2:
    sys.exit("record-demo: no frames found in docs/demo.svg")
open(path, "w", encoding="utf-8").write(head + strip)
PY
echo "record-demo: wrote docs/demo.cast ($(wc -c <"$cast") bytes) and docs/demo.svg ($(wc -c <"$repo/docs/demo.svg") bytes)"

if [ -n "${SHOT:-}" ]; then
	# The last frame as a still, screenshotted by headless Chromium: look at it.
	last=$(python3 -c 'import json,sys; l=open(sys.argv[1]).read().splitlines(); print(int(float(json.loads(l[-1])[0])*1000)-1)' "$cast")
	$svgterm --in "$cast" --out "$work/last.svg" --window --no-cursor --width "$cols" --height "$rows" --at "$last"
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --user-data-dir="$work/chromium" --hide-scrollbars --window-size=1100,720 \
		--screenshot="$SHOT" "file://$work/last.svg" >/dev/null 2>&1
	echo "record-demo: screenshot of the last frame: $SHOT"
fi
