# Assertions for CLI tests. Source it; call `run CMD...` then the expect_* functions; end with
# `finish`. Needs $KGET (the binary) and $FIXTURES from ctest.
set -u
passed=0
failed=0
out=""
err=""
code=0

run() {
  local out_file err_file
  out_file=$(mktemp)
  err_file=$(mktemp)
  "$@" >"$out_file" 2>"$err_file"
  code=$?
  out=$(cat "$out_file")
  err=$(cat "$err_file")
  rm -f "$out_file" "$err_file"
  last_command="$*"
}

report() { # report OK MESSAGE
  if [ "$1" = 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL: %s\n  command: %s\n  exit: %s\n  stdout: %s\n  stderr: %s\n' \
      "$2" "$last_command" "$code" "$out" "$err"
  fi
}

expect_exit() { [ "$code" = "$1" ]; report $? "exit code $1"; }
expect_out() { case "$out" in *"$1"*) report 0 "";; *) report 1 "stdout contains: $1";; esac; }
expect_err() { case "$err" in *"$1"*) report 0 "";; *) report 1 "stderr contains: $1";; esac; }
expect_no_out() { case "$out" in *"$1"*) report 1 "stdout lacks: $1";; *) report 0 "";; esac; }
expect_line() { # expect_line N TEXT: the Nth line of stdout (1-based) contains TEXT
  local line
  line=$(printf '%s\n' "$out" | sed -n "${1}p")
  case "$line" in *"$2"*) report 0 "";; *) report 1 "line $1 contains: $2 (it is: $line)";; esac
}

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
}
