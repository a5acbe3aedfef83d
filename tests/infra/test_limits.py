"""No deployment Terraform accepts can crash a function at start: for every setting that both
infra/variables.tf validates and a function's code enforces, the two limits are the same
numbers. The code's limits are read from its constants (`pub const NAME: ... = ...;`)."""
import os
import re
import unittest

from hcl import ROOT, text, variables

_ARITHMETIC = re.compile(r"^[\d\s_+\-*/()]+$")


def code_constant(crate, name):
    """The value of `pub const NAME` in a function crate's lib.rs (a `Duration::from_secs(..)`
    in seconds, or a plain integer expression), evaluated from its digits and operators."""
    with open(os.path.join(ROOT, "functions", crate, "src", "lib.rs"), encoding="utf-8") as f:
        source = f.read()
    match = re.search(rf"pub const {name}: [^=]+= (.+?);", source, re.S)
    if not match:
        raise AssertionError(f"functions/{crate}/src/lib.rs has no `pub const {name}`")
    expression = match.group(1).strip()
    seconds = re.fullmatch(r"Duration::from_secs\((.+)\)", expression, re.S)
    if seconds:
        expression = seconds.group(1)
    expression = expression.replace("_", "")
    if not _ARITHMETIC.match(expression):
        raise AssertionError(f"{name} = {expression!r} is not plain arithmetic")
    return eval(expression, {"__builtins__": {}})  # digits and operators only


def terraform_range(variable):
    """(minimum, maximum) of `var.x >= A && var.x <= B` in the variable's validation (or of
    `coalesce(var.x, 0) >= A ...` for a variable that may be null)."""
    body = variables()[variable]
    validations = body.get("validation", [])
    validations = validations if isinstance(validations, list) else [validations]
    conditions = " && ".join(str(v.get("condition", "")) for v in validations)
    low = re.search(rf"var\.{variable}(?:, 0\))? >= (\d+)", conditions)
    high = re.search(rf"var\.{variable}(?:, 0\))? <= (\d+)", conditions)
    if not (low and high):
        raise AssertionError(f"variable {variable} has no `>= N && <= M` validation: {conditions!r}")
    whole = f"floor(var.{variable}) == var.{variable}" in conditions
    return int(low.group(1)), int(high.group(1)), whole


# variable → (function, the code's (minimum, maximum)), each bound as the code enforces it.
U32_MAX = 2**32 - 1
LIMITS = {
    "upload_url_seconds": ("presign-upload", (1, ("presign-upload", "MAX_URL_LIFETIME"))),
    "download_url_seconds": ("presign-download", (1, ("presign-download", "MAX_URL_LIFETIME"))),
    "max_upload_bytes": ("presign-upload", (1, ("presign-upload", "MAX_UPLOAD_LIMIT"))),
    "multipart_threshold_bytes": ("presign-upload", (("presign-upload", "MIN_PART_BYTES"), ("presign-upload", "MAX_PART_BYTES"))),
    "part_size_bytes": ("presign-upload", (("presign-upload", "MIN_PART_BYTES"), ("presign-upload", "MAX_PART_BYTES"))),
    "multipart_upload_seconds": ("presign-upload", (("presign-upload", "MIN_MULTIPART_WINDOW"), ("presign-upload", "MAX_MULTIPART_WINDOW"))),
    "queued_stall_seconds": ("redriver", (1, ("redriver", "MAX_QUEUED_STALL"))),
    "max_redrives": ("redriver", (0, U32_MAX)),
    "max_pending_uploads": ("presign-upload", (1, ("presign-upload", "MAX_PENDING_LIMIT"))),
}


class ValidationsEqualTheCodesLimits(unittest.TestCase):
    def test_each_limit_is_the_same_number_on_both_sides(self):
        for variable, (function, (low, high)) in LIMITS.items():
            low = code_constant(*low) if isinstance(low, tuple) else low
            high = code_constant(*high) if isinstance(high, tuple) else high
            tf_low, tf_high, whole = terraform_range(variable)
            self.assertEqual((tf_low, tf_high), (low, high),
                             f"{variable}: Terraform allows {tf_low}..{tf_high}, {function} {low}..{high}")
            self.assertTrue(whole, f"{variable}: the code parses a whole number; validate floor()")

    def test_upload_urls_live_at_most_an_hour(self):
        """A URL signed with the function's role session dies with the session."""
        self.assertEqual(code_constant("presign-upload", "MAX_URL_LIFETIME"), 3600)

    def test_the_consumers_lease_fits_the_code(self):
        """lease_seconds = consumer_timeout_seconds + 30: its largest value is within MAX_LEASE."""
        _, timeout_max, _ = terraform_range("consumer_timeout_seconds")
        self.assertIn("local.consumer_timeout_seconds + 30", text("locals.tf"))
        self.assertIn("min(900,", text("consumer.tf"))
        with open(os.path.join(ROOT, "functions", "consumer", "src", "lib.rs"), encoding="utf-8") as f:
            self.assertIn("sqs_limits::MAX_VISIBILITY_TIMEOUT", f.read())
        self.assertLessEqual(timeout_max + 30, 43_200)

    def test_the_check_reads_constants_and_validations(self):
        self.assertEqual(code_constant("presign-upload", "MAX_SINGLE_PUT"), 5 * 1024**3)
        self.assertEqual(terraform_range("max_receive_count")[:2], (1, 1000))


if __name__ == "__main__":
    unittest.main()
