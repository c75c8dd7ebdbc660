from . import collection_risk_backtest
