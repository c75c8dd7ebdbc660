from . import main
from . import portal
from . import payment
from . import offer
from . import statement
from . import autopay
from . import whatsapp
from . import invoice_link
