# shellcheck shell=bash
# Sourced by every stand-in of the rehearsal (installed at /usr/lib/rehearsal/record.sh in the root):
# appends "<program>\t<arg>\t<arg>..." to /var/log/rehearsal/calls.tsv, so the tests see what the
# provision scripts asked of programs that cannot run here. A line of /etc/rehearsal/faults naming
# "<program> <first args>" makes that call fail (exit 1), to inject failures.
REHEARSAL_LOG=/var/log/rehearsal
mkdir -p "$REHEARSAL_LOG" /var/lib/rehearsal 2>/dev/null || true
{
  printf '%s' "$(basename "$0")"
  printf '\t%s' "$@"
  printf '\n'
} >>"$REHEARSAL_LOG/calls.tsv"
if [ -f /etc/rehearsal/faults ]; then
  while IFS= read -r fault; do
    [ -n "$fault" ] || continue
    case "$(basename "$0") $*" in
      "$fault"*)
        echo "$(basename "$0"): injected failure ($fault)" >&2
        exit 1
        ;;
    esac
  done </etc/rehearsal/faults
fi
