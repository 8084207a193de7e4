"""Stand-in servers: the systems the suite talks to, run locally, so that a new user runs
every program without an account and the tests talk real HTTP. Not what cron runs.

- ixsimulator.IXSimulator: Index Exchange (reporting and CAL), data from ixsimdata.
"""
