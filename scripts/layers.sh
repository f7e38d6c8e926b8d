#!/usr/bin/env bash
# Layers only look down: a file of src/LAYER may include "OTHER/x.h" only when
# OTHER comes before LAYER in this order (docs/design.md, "Layers").
# Prints every include that looks up and exits 1 if there is any that is not
# in EXCEPTIONS below. Run by `make layers` and first thing in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

ORDER=(core model store auth http api cli)

# Violations still present on purpose, one "file -> included" per line, each
# with who removes it. Empty this list as they go; never add to it.
EXCEPTIONS=(
  # the store helper removes it: the token record types move down to store
  "src/store/store.h -> auth/token.h"
  # the api/model helper removes these: the validation-error type moves to
  # model, and the User model's rules stop reaching into store and auth
  "src/model/user.h -> http/request.h"
  "src/model/user.h -> store/store.h"
  "src/model/user.c -> auth/password.h"
)

rank() {
  local i
  for i in "${!ORDER[@]}"; do
    [[ ${ORDER[$i]} == "$1" ]] && { echo "$i"; return; }
  done
  echo -1
}

bad=0
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
    for e in "${EXCEPTIONS[@]}"; do [[ $e == "$entry" ]] && known=1; done
    if [[ $known -eq 0 ]]; then
      echo "layers: $f includes \"$inc\": $layer may not look up at $other" >&2
      bad=1
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([a-z]*\/[^"]*\)".*/\1/p' "$f")
done
[[ $bad -eq 0 ]] && echo "layers: every include looks down (${ORDER[*]})"
exit $bad
