from . import risk_model
from . import contact_policy
