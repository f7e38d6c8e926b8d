#!/usr/bin/env bash
# Layers only look down: a file of src/LAYER may include "OTHER/x.h" only when
# OTHER comes before LAYER in this order (docs/design.md, "Layers").
# Prints every include that looks up and exits 1 if there is any that is not
# in EXCEPTIONS below. Run by `make layers` and first thing in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

ORDER=(core model store auth http api cli)

# Violations allowed on purpose, as "file -> included|why", the reason after
# the "|" (an entry without one fails the check). Empty: every include looks
# down. Keep it so: fix the include rather than add to this list.
EXCEPTIONS=(
)

rank() {
  local i
  for i in "${!ORDER[@]}"; do
    [[ ${ORDER[$i]} == "$1" ]] && { echo "$i"; return; }
  done
  echo -1
}

bad=0
for e in ${EXCEPTIONS[@]+"${EXCEPTIONS[@]}"}; do
  why=${e#*|}
  if [[ $e != *"|"* || -z ${why//[[:space:]]/} ]]; then
    echo "layers: exception \"$e\" gives no reason (\"file -> included|why\")" >&2
    bad=1
  fi
done
for f in src/*/*.c src/*/*.h; do
  layer=${f#src/}; layer=${layer%%/*}
  mine=$(rank "$layer")
  if [[ $mine -lt 0 ]]; then
    echo "layers: $f: folder '$layer' is not in the order (${ORDER[*]})" >&2
    bad=1
    continue
  fi
  while IFS= read -r inc; do
    other=${inc%%/*}
    theirs=$(rank "$other")
    [[ $theirs -lt 0 || $theirs -le $mine ]] && continue
    entry="$f -> $inc"
    known=0
    for e in ${EXCEPTIONS[@]+"${EXCEPTIONS[@]}"}; do [[ ${e%%|*} == "$entry" ]] && known=1; done
    if [[ $known -eq 0 ]]; then
      echo "layers: $f includes \"$inc\": $layer may not look up at $other" >&2
      bad=1
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([a-z]*\/[^"]*\)".*/\1/p' "$f")
done
[[ $bad -eq 0 ]] && echo "layers: every include looks down (${ORDER[*]})"
exit $bad
