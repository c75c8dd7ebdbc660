from . import controllers
from . import models
from . import demo
from . import report
from . import tools
from . import wizards

from .hooks import uninstall_hook
