from . import res_company
from . import res_config_settings
from . import collection_demo_loader
