from . import risk_model
from . import contact_policy
from . import portal_access
