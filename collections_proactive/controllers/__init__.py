from . import main
from . import portal
from . import payment
from . import autopay
