"""The public surface is exactly what `__all__` says, sorted, and nothing private leaks."""

from __future__ import annotations

import helpcrunch_async as hc

EXPECTED = [
    "DEFAULT_BASE_URL",
    "DEFAULT_BUDGET_KEY",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_RATE_LIMIT_WAIT",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RATE_PERIOD",
    "APIError",
    "Agent",
    "Agents",
    "AgentsPage",
    "AmbiguousWriteError",
    "Application",
    "Applications",
    "AuthenticationError",
    "BadRequestError",
    "Chat",
    "ChatCustomer",
    "ChatDepartment",
    "ChatSort",
    "Chats",
    "ChatsPage",
    "ClientClosedError",
    "Comparison",
    "CustomDataItem",
    "Customer",
    "CustomerScan",
    "Customers",
    "CustomersPage",
    "DecodeError",
    "Department",
    "Departments",
    "DepartmentsPage",
    "Device",
    "ErrorEntry",
    "Event",
    "FanOutScan",
    "FanOutStats",
    "Filter",
    "HelpCrunch",
    "HelpCrunchError",
    "IncompleteScanError",
    "InvalidParameterError",
    "LocalBudget",
    "Location",
    "Message",
    "MessagesPage",
    "NotFoundError",
    "Order",
    "Organization",
    "OrganizationResource",
    "PermissionDeniedError",
    "RateBudget",
    "RateLimitError",
    "RedisBudget",
    "RedisUnavailableError",
    "RequestTimeoutError",
    "Scan",
    "ScanStats",
    "ServerError",
    "Sort",
    "Tag",
    "TransportError",
    "UpdateResult",
    "__version__",
    "webhooks",
]


def test_all_is_pinned_and_sorted() -> None:
    assert hc.__all__ == EXPECTED
    # Ruff's isort-style order: CONSTANTS, then Classes, then the rest (modules, dunders).
    assert hc.__all__ == sorted(hc.__all__, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))


def test_every_name_exists_and_public_classes_claim_the_package() -> None:
    for name in hc.__all__:
        member = getattr(hc, name)
        if isinstance(member, type):
            assert member.__module__.startswith("helpcrunch_async"), name


def test_error_tree() -> None:
    assert issubclass(hc.APIError, hc.HelpCrunchError)
    for cls in (
        hc.BadRequestError,
        hc.AuthenticationError,
        hc.NotFoundError,
        hc.RateLimitError,
        hc.ServerError,
    ):
        assert issubclass(cls, hc.APIError)
    assert issubclass(hc.PermissionDeniedError, hc.AuthenticationError)
    assert issubclass(hc.RequestTimeoutError, hc.TransportError)
    assert issubclass(hc.TransportError, hc.HelpCrunchError)
    assert issubclass(hc.DecodeError, hc.HelpCrunchError)
    assert issubclass(hc.InvalidParameterError, ValueError)
