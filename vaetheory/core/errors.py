"""Exception types. Every error a user can cause maps to one of these; the CLI turns them into exit code 2."""


class VaetheoryError(Exception):
    """Base class for errors caused by input, configuration or budgets (never by a bug)."""


class InputError(VaetheoryError, ValueError):
    """Malformed, non-finite or inconsistent input arrays or files."""


class BudgetError(VaetheoryError, RuntimeError):
    """A computation would exceed its declared budget (e.g. too many subsets to enumerate)."""


class VariantError(VaetheoryError, RuntimeError):
    """A variant could not be imported, is malformed, or failed while being evaluated."""
