from . import report_payment_plan
from . import report_collection_letter
from . import collection_aging_report
from . import report_customer_statement
from . import collection_cash_forecast
