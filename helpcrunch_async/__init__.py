"""helpcrunch_async: an asyncio client for the HelpCrunch REST API.

Fetch every customer as fast as the API's cap allows, and never over it::

    import helpcrunch_async as hc

    async with hc.HelpCrunch() as client:  # the key from HELPCRUNCH_API_KEY
        async with client.customers.iter_all(sort="customers.firstSeen") as scan:
            async for customer in scan:
                ...
        print(scan.stats)
"""

from ._client import DEFAULT_BASE_URL, HelpCrunch
from ._core.paging import ScanStats
from ._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    DecodeError,
    HelpCrunchError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)
from ._models.customers import (
    CustomDataItem,
    Customer,
    CustomersPage,
    Device,
    ErrorEntry,
    Location,
    Tag,
)
from ._redis.budget import RedisBudget, RedisUnavailableError
from ._resources.customers import Customers
from ._shell.budget import LocalBudget, RateBudget
from ._shell.scan import CustomerScan, Scan

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BASE_URL",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "CustomDataItem",
    "Customer",
    "CustomerScan",
    "Customers",
    "CustomersPage",
    "DecodeError",
    "Device",
    "ErrorEntry",
    "HelpCrunch",
    "HelpCrunchError",
    "InvalidParameterError",
    "LocalBudget",
    "Location",
    "NotFoundError",
    "PermissionDeniedError",
    "RateBudget",
    "RateLimitError",
    "RedisBudget",
    "RedisUnavailableError",
    "RequestTimeoutError",
    "Scan",
    "ScanStats",
    "ServerError",
    "Tag",
    "TransportError",
    "__version__",
]
