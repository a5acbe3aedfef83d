"""Adds up the `test result:` lines of `cargo test` output read from stdin (and echoes it),
then prints one closing line: `tests: N passed, N failed, N skipped`."""
import re
import sys

passed = failed = ignored = 0
for line in sys.stdin:
    sys.stdout.write(line)
    sys.stdout.flush()
    m = re.search(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", line)
    if m:
        passed += int(m.group(1))
        failed += int(m.group(2))
        ignored += int(m.group(3))
print(f"tests: {passed} passed, {failed} failed, {ignored} skipped")
