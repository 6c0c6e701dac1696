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
record=$(mktemp) # every reply the black-box suite received, for the OpenAPI check
trap 'rm -f "$out" "$out.rc" "$record"' EXIT

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

# The black-box suite on pytest (tests/http/conftest.py): every test once
# per configuration of backends it applies to (KG_TEST_CONFIGS, default all
# three), each configuration with the Redis and PostgreSQL it needs.
# KG_PYTEST_ARGS passes more options (-x, -k EXPR, --junitxml=F).
# KG_TEST_JOBS workers run it (python3-pytest-xdist, a module per worker;
# default 2, about twice as fast on two cores as most tests wait on time);
# 1 runs it in this one process.
files=$(ls tests/http/test_*.py | while read -r f; do
	case "$(basename "$f")" in *"${TEST_ONLY:-}"*) echo "$f" ;; esac
done)
configs=$(echo ${KG_TEST_CONFIGS:-sqlite-shm sqlite-redis pg-redis} | tr ' ' ',')
jobs=""
if [ "${KG_TEST_JOBS:-2}" -gt 1 ] && pytest-3 -p xdist --version >/dev/null 2>&1; then
	jobs="-n ${KG_TEST_JOBS:-2} --dist loadscope"
fi
if ! command -v pytest-3 >/dev/null 2>&1; then
	echo "FAIL http: pytest-3 not found (Debian's python3-pytest; make deps-test installs it)"
	failed=$((failed + 1))
elif [ -n "$files" ]; then
	# Shown as it runs, kept for the count.
	{
		# shellcheck disable=SC2086
		KG_OPENAPI_RECORD="$record" KG_TEST_BIN="$BUILD/keygate" PYTHONUNBUFFERED=1 pytest-3 -c tests/http/pytest.ini \
			--rootdir=tests/http --kg-configs="$configs" $jobs ${KG_PYTEST_ARGS:-} $files 2>&1
		echo $? >"$out.rc"
	} | tee "$out"
	rc=$(cat "$out.rc")
	# pytest's closing line: "== 240 passed, 3 failed, 1 error, 9 deselected in 99.0s =="
	line=$(grep -E '^=+ .*[0-9]+ (passed|failed|error)' "$out" | tail -n 1)
	count() { echo "$line" | grep -oE "[0-9]+ $1" | grep -oE '^[0-9]+' || echo 0; }
	p=$(count passed)
	f=$(($(count failed) + $(count error)))
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1)) # pytest itself failed
	echo "http [$configs]: $p passed, $f failed"
	# Every reply received, validated against docs/openapi.yaml by a real
	# OpenAPI validator (tests/openapi/responses.mjs): one check, which a
	# missing validator fails alone.
	if ! command -v node >/dev/null 2>&1 || [ ! -d tests/openapi/node_modules/openapi-backend ]; then
		echo "FAIL openapi responses: the validator is not installed (node and npm ci --prefix tests/openapi; make deps-test does both)"
		failed=$((failed + 1))
	elif node tests/openapi/responses.mjs docs/openapi.yaml "$record"; then
		passed=$((passed + 1))
	else
		echo "FAIL openapi responses: replies that docs/openapi.yaml does not describe (above)"
		failed=$((failed + 1))
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
