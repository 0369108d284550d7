"""The figures of the dashboard, each computed from the mirror: aging per currency and in the
home currency, DSO (countback and simple), CEI, the overdue trend reconstructed from payment
history, overdue by reason, the top overdue customers and what needs attention.

Pure functions over plain rows where the arithmetic is (tests give them hand-made rows), and a
loader per figure that reads the rows it needs. Amounts in different currencies are never added:
a home-currency figure converts each invoice at its own rate (insights.fx) and names what it
could not convert.
"""
