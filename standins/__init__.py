"""Stand-in servers: the systems the suite talks to, run locally, so that a new user runs
every program without an account and the tests talk real HTTP. Not what cron runs.

- ixsimulator.IXSimulator: Index Exchange (reporting and CAL), data from ixsimdata.
- securereporter.SecureReporterStandIn: Secure Reporter (docs/secure-reporter.md).
- cxreports.CxReportsStandIn: CxReports (docs/cxreports.md), real PDFs with fpdf2.
- common: what they share (server start and stop, knobs, call counts, the fault queue,
  one request handler).
"""
