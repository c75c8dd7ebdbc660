from . import test_install
from . import test_demo_loader
from . import test_risk_model
from . import test_risk_scoring
from . import test_reminders
from . import test_cases
from . import test_optout_controller
from . import test_ui_smoke
