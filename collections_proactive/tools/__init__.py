from . import risk_model
