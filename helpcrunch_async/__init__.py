"""helpcrunch_async: an asyncio client for the HelpCrunch REST API.

Fetch every customer as fast as the API's cap allows, and never over it::

    import helpcrunch_async as hc

    async with hc.HelpCrunch() as client:  # the key from HELPCRUNCH_API_KEY
        async with client.customers.iter_all(sort="customers.firstSeen") as scan:
            async for customer in scan:
                ...
        print(scan.stats)
"""

from . import webhooks
from ._client import DEFAULT_BASE_URL, HelpCrunch
from ._core.filters import Comparison, Filter
from ._core.params import (
    DEFAULT_BUDGET_KEY,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_PERIOD,
    ChatSort,
    Order,
    Sort,
)
from ._errors import (
    AmbiguousWriteError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    DecodeError,
    HelpCrunchError,
    IncompleteScanError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedisUnavailableError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)
from ._models.agents import Agent, AgentsPage, Department, DepartmentsPage
from ._models.chats import Chat, ChatCustomer, ChatDepartment, ChatsPage
from ._models.customers import (
    CustomDataItem,
    Customer,
    CustomersPage,
    Device,
    Location,
    Tag,
)
from ._models.errors import ErrorEntry
from ._models.messages import Message, MessagesPage
from ._models.writes import Application, Event, Organization, UpdateResult
from ._redis.budget import RedisBudget
from ._resources.agents import Agents
from ._resources.applications import Applications
from ._resources.chats import Chats
from ._resources.customers import Customers, CustomerScan
from ._resources.departments import Departments
from ._resources.organization import OrganizationResource
from ._shell.budget import LocalBudget, RateBudget
from ._shell.fanout import FanOutScan, FanOutStats
from ._shell.scan import Scan
from ._shell.stats import ScanStats
from ._version import VERSION

__version__ = VERSION

__all__ = [
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
