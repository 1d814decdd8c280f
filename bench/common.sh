# Shared by bench/nginx and bench/redis (sourced, not run): process helpers, the
# "before" side of a comparison, and the load helpers (docs/net.md, "Under load").
#
# A comparison measures the ukit cases twice in one run: with this checkout's tools
# ("after") and, when BENCH_BEFORE_UKPORT is set, with another revision's ukport
# ("before"; its own cache in BENCH_BEFORE_CACHE, default <cache>/bench-before-cache, so
# that the two never rebuild each other's ports and kernels). bench/compare builds a
# revision's tools into <cache>/bench-before-target:
#   BENCH_BEFORE_UKPORT=~/.cache/ukit/bench-before-target/release/ukport bench/nginx

die() { echo "bench: error: $*" >&2; exit 1; }
# A command that fails under `set -e` says which one it was.
trap 'echo "bench: error: line $LINENO: $BASH_COMMAND failed" >&2' ERR

# mem PID: "VmRSS=.. VmHWM=.." of a live process.
mem() {
    awk '/^VmRSS|^VmHWM/ {printf "%s=%s%s ", substr($1, 1, length($1) - 1), $2, $3}' "/proc/$1/status"
}

# stop PID: SIGTERM, and SIGKILL if it is still there after 5 s.
stop() {
    local i
    kill "$1" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$1" 2>/dev/null; then
        echo "bench: pid $1 ignored SIGTERM for 5 s; SIGKILL" >&2
        kill -KILL "$1" 2>/dev/null || true
    fi
    wait "$1" 2>/dev/null || true
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# sides: "after" (this checkout's $UKPORT, $cache), and "before" when configured.
sides() {
    echo after
    [[ -n ${BENCH_BEFORE_UKPORT:-} ]] && echo before
    return 0
}
# side_ukport SIDE / side_cache SIDE / side_suffix SIDE
side_ukport() { if [[ $1 == before ]]; then echo "$BENCH_BEFORE_UKPORT"; else echo "$UKPORT"; fi; }
side_cache() {
    if [[ $1 == before ]]; then echo "${BENCH_BEFORE_CACHE:-$cache/bench-before-cache}"; else echo "$cache"; fi
}
side_suffix() { if [[ $1 == before ]]; then echo "-before"; fi; }

# side_image SIDE APP: builds APP with SIDE's ukport into SIDE's cache; prints the image.
side_image() {
    local c u
    c=$(side_cache "$1")
    u=$(side_ukport "$1")
    [[ -x $u ]] || die "$1: no ukport at $u"
    mkdir -p "$c"
    # A fresh "before" cache starts from this one's verified source archives.
    if [[ ! -d $c/sources && -d $cache/sources ]]; then cp -al "$cache/sources" "$c/sources"; fi
    echo "bench: ($1) ukport build $2" >&2
    UKIT_CACHE=$c "$u" build "$2" >&2 || die "$1: ukport build $2 failed"
    [[ -x $c/images/$2.linuxu ]] || die "$1: no image at $c/images/$2.linuxu"
    echo "$c/images/$2.linuxu"
}

# cpu_ticks PID: user + system clock ticks (10 ms) a process has used.
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# idle_pct SECONDS PID...: the CPU share (percent of one CPU) of each PID over SECONDS.
idle_pct() {
    local secs=$1 p out=() before=()
    shift
    for p in "$@"; do before+=("$(cpu_ticks "$p")"); done
    sleep "$secs"
    local i=0
    for p in "$@"; do
        out+=("$(awk -v a="$(cpu_ticks "$p")" -v b="${before[$i]}" -v s="$secs" 'BEGIN { printf "%.2f", (a - b) / s }')")
        i=$((i + 1))
    done
    echo "${out[*]}"
}
# child_pid PARENT PATTERN: the child of PARENT whose executable's name matches PATTERN.
child_pid() {
    local c
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        [[ $(readlink "/proc/$c/exe") =~ $2 ]] && { echo "$c"; return 0; }
    done
    return 0
}
# alive PID...: the PIDs still running (not zombies).
alive() {
    local p
    for p in "$@"; do
        [[ -r /proc/$p/stat ]] && ! awk '{ sub(/.*\) /, ""); exit !($1 == "Z") }' "/proc/$p/stat" && echo -n "$p "
    done
    return 0
}

# build_netload DIR: tests/c/netload.c built natively into DIR; prints its path.
build_netload() {
    musl-gcc -static -O2 -o "$1/netload" "$root/tests/c/netload.c" || die "musl-gcc netload.c failed"
    echo "$1/netload"
}
