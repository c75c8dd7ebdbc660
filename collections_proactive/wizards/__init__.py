from . import collection_risk_backtest
from . import collection_send_wizard
from . import collection_send_wizard_line
from . import collection_case_pause
from . import collection_overview
from . import collection_aging_wizard
from . import collection_payment_plan_accept
from . import collection_payment_plan_decline
