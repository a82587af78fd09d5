"""The dashboard's stats card: my backtests against the monthly quota, bots, paper profit and KPI averages."""
