#!/bin/sh
# Reports a task's status and outputs to hookflow from inside its container (needs sh and curl).
#   report.sh running|succeeded|failed [KEY=VALUE ...]
#   report.sh failed "the message"         (a failure's message; no KEY=VALUE pairs)
# Reads HOOKFLOW_CALLBACK_URL and HOOKFLOW_TASK_TOKEN, which hookflow gives every task.
set -eu
status="$1"
shift
json_string() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g' | awk 'BEGIN{ORS=""} NR>1{print "\\n"} {print}'; }
if [ "$status" = failed ] && [ $# -gt 0 ]; then
  body="{\"status\":\"failed\",\"message\":\"$(json_string "$*")\"}"
else
  outputs=""
  for pair in "$@"; do
    key="${pair%%=*}"
    value="${pair#*=}"
    outputs="${outputs:+$outputs,}\"$(json_string "$key")\":\"$(json_string "$value")\""
  done
  body="{\"status\":\"$status\",\"outputs\":{${outputs}}}"
fi
curl -fsS --retry 3 --retry-all-errors -X POST "$HOOKFLOW_CALLBACK_URL" \
  -H "Authorization: Bearer $HOOKFLOW_TASK_TOKEN" -H "Content-Type: application/json" --data-binary "$body" >/dev/null
