from . import report_payment_plan
from . import report_collection_letter
