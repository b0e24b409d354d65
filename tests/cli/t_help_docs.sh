#!/bin/bash
# The man page and the bash and zsh completions are generated in the build from the option
# tables that make --help (issue 16, "Install like a tool"): every command of `escudo --help`
# and every option of `escudo COMMAND --help` is in each of them, and `cmake --install` puts them
# where man, bash-completion and zsh look.
. "$(dirname "$0")/lib.sh"
B=${ESC_BUILD_DIR:-$(dirname "$ESCUDO")}
for f in escudo.1 escudo.bash _escudo; do
    [ -s "$B/$f" ] || { echo "FAIL: $B/$f was not generated"; fail=1; }
done
[ $fail -eq 0 ] || exit 1
cmds=$("$ESCUDO" --help | awk '/^commands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{on=0}')
[ -n "$cmds" ] || { echo "FAIL: no commands in escudo --help"; exit 1; }
n=0
for c in $cmds; do
    grep -q "^\.SS .*escudo $c" "$B/escudo.1" || { echo "FAIL: man page lacks command $c"; fail=1; }
    grep -qw "$c" "$B/escudo.bash" || { echo "FAIL: bash completion lacks command $c"; fail=1; }
    grep -q "'$c:" "$B/_escudo" || { echo "FAIL: zsh completion lacks command $c"; fail=1; }
    opts=$("$ESCUDO" "$c" --help | grep -oE '^  --[a-z][a-z0-9-]*' | sed 's/^  //' | sort -u)
    [ -n "$opts" ] || { echo "FAIL: $c --help lists no option"; fail=1; }
    # the man page section of this command
    sed -n "/^\.SS .*escudo $c\"*\$/,/^\.S[SH] /p" "$B/escudo.1" >"$T/man.$c"
    for o in $opts; do
        n=$((n + 1))
        grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" "$T/man.$c" ||
            { echo "FAIL: man page, $c: $o missing"; fail=1; }
        awk -v c="$c" '$0 ~ "^ *" c "\\)" {on=1} on {print} on && /^ *;;$/ {exit}' "$B/escudo.bash" |
            grep -qF -- "$o" || { echo "FAIL: bash completion, $c: $o missing"; fail=1; }
        awk -v c="$c" '$0 ~ "^ *" c "\\)" {on=1} on {print} on && /^ *;;$/ {exit}' "$B/_escudo" |
            grep -qF -- "$o" || { echo "FAIL: zsh completion, $c: $o missing"; fail=1; }
    done
done
echo "checked $n options of $(echo $cmds | wc -w) commands"
# the generated files are what the binary prints now
"$ESCUDO" --help-man | cmp -s - "$B/escudo.1" || { echo "FAIL: escudo.1 is stale"; fail=1; }
"$ESCUDO" --completions bash | cmp -s - "$B/escudo.bash" || { echo "FAIL: escudo.bash stale"; fail=1; }
"$ESCUDO" --completions zsh | cmp -s - "$B/_escudo" || { echo "FAIL: _escudo stale"; fail=1; }
"$ESCUDO" --completions fish >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: --completions fish is not a usage error"; fail=1; }
# the completion scripts load in their shells
bash -c "source '$B/escudo.bash' && complete -p escudo" >/dev/null ||
    { echo "FAIL: bash cannot load escudo.bash"; fail=1; }
if command -v zsh >/dev/null; then
    zsh -n "$B/_escudo" || { echo "FAIL: zsh cannot parse _escudo"; fail=1; }
fi
if command -v man >/dev/null && command -v groff >/dev/null; then
    MANWIDTH=100 man -l "$B/escudo.1" 2>"$T/manerr" >/dev/null
    [ ! -s "$T/manerr" ] || { echo "FAIL: man warns: $(head -3 "$T/manerr")"; fail=1; }
fi
# installed where the tools look
cmake --install "$B" --prefix "$T/p" >/dev/null || { echo "FAIL: cmake --install"; fail=1; }
for f in bin/escudo share/man/man1/escudo.1 share/bash-completion/completions/escudo \
    share/zsh/site-functions/_escudo share/escudo/content/base/macros/drop_dm_object_name.yml; do
    [ -s "$T/p/$f" ] || { echo "FAIL: not installed: $f"; fail=1; }
done
[ $fail -eq 0 ] && echo "help docs: all passed"
exit $fail
