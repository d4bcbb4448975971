"""Every table schema and JSON shape of the project, declared once.

DDL, the docs' tables and output validation are derived from these declarations
(:mod:`schemas.render`). Modules that the rules import (:mod:`schemas.bodies`,
:mod:`schemas.reasons`, :mod:`schemas.shapes`) do not import Spark.
"""
