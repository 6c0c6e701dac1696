#!/bin/sh
# Run every test against the binaries in BUILD (default: build): the cmocka
# unit tests, then the black-box HTTP scenarios. Ends with one line
# "N passed, M failed" and a non-zero exit when anything failed.
# TEST_ONLY=word runs only the black-box files whose names contain it, and
# then only the unit tests named by UNIT_ONLY (space-separated; none when
# unset).
BUILD=${1:-build}
passed=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

if [ -z "${TEST_ONLY:-}" ] || [ -n "${UNIT_ONLY:-}" ]; then
	for t in "$BUILD"/tests/test_*; do
		case "$t" in *.d) continue ;; esac
		if [ -n "${UNIT_ONLY:-}" ]; then
			case " $UNIT_ONLY " in *" $(basename "$t") "*) ;; *) continue ;; esac
		fi
		"$t" >"$out" 2>&1
		rc=$?
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out")
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out")
		passed=$((passed + ${p:-0}))
		failed=$((failed + ${f:-0}))
		if [ "$rc" -ne 0 ]; then
			cat "$out"
			[ -z "$f" ] && failed=$((failed + 1)) # crashed before counting
		fi
		echo "unit $(basename "$t"): ${p:-0} passed, ${f:-0} failed"
	done
fi

# Every input the fuzzers keep (corpus and regressions), replayed.
if [ -z "${TEST_ONLY:-}" ]; then
	for t in "$BUILD"/tests/fuzz_*; do
		case "$t" in *.d) continue ;; esac
		name=${t##*/fuzz_}
		if "$t" $(find tests/fuzz/corpus/"$name" tests/fuzz/regress/"$name" -type f ! -name .keep) >"$out" 2>&1; then
			passed=$((passed + 1))
			echo "fuzz replay $name: $(tail -n 1 "$out")"
		else
			failed=$((failed + 1))
			cat "$out"
			echo "FAIL fuzz replay $name"
		fi
	done
fi

# The black-box suite once per configuration of backends (KG_TEST_CONFIGS,
# default all three); each run starts the Redis and PostgreSQL it needs.
for config in ${KG_TEST_CONFIGS:-sqlite-shm sqlite-redis pg-redis}; do
	KG_TEST_CONFIG=$config KG_TEST_BIN="$BUILD/keygate" python3 tests/http/run.py >"$out" 2>&1
	rc=$?
	cat "$out"
	line=$(tail -n 1 "$out")
	p=$(echo "$line" | sed -n 's/^http: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$line" | sed -n 's/^http: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	[ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ] && failed=$((failed + 1))
	echo "http [$config]: ${p:-0} passed, ${f:-0} failed"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
