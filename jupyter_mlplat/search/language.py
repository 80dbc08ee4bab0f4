"""What the one search's terms mean, and where each is answered.

The grammar is :mod:`jupyter_mlplat.infra.query`'s. Each clause (terms ANDed; ``OR`` between
clauses) is compiled into one :class:`ClausePlan`: the kinds that can answer every term, the
MLflow filter strings for the kinds MLflow searches (runs, model versions, registered models),
and what the local indexes need (words, fields, a reports query) for the others.

Vocabulary (a term that does not apply to a kind leaves that kind out of its clause):

==================  =====================================================================
``kind:a|b``        model version run report pipeline deployment table column
``metric.m <op> x`` runs, versions and models (through their runs), reports
``param.p <op> x``  runs, versions, models; ``= !=`` in MLflow, ``< <= > >=`` on numbers
``tag.t = v``       runs, versions, models (``tag.t:v`` too)
``name:x``          every kind, by a name holding x
``model:x``         versions, models, reports, deployments of model x
``version:n``       versions, reports
``table:db.t``      tables, columns, reports, runs that read it (MLflow ``datasets.name``)
``column:c``        columns (and their tables)
``experiment:x``    runs in experiments whose name holds x
``pipeline:x``      pipelines, runs a pipeline made (``mlplat.pipeline.dag_id`` tag)
``status:s``        runs (FINISHED, FAILED...), deployments (ready, failed...), pipelines
words               names everywhere, table comments, column names and comments, reports
==================  =====================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.infra import query as grammar
from jupyter_mlplat.infra.query import Query, QueryError, Term
from jupyter_mlplat.reports import query as reports_query
from jupyter_mlplat.tracking.tags import PIPELINE_TAG

KINDS = ("model", "version", "run", "report", "pipeline", "deployment", "table", "column")
ALL = frozenset(KINDS)
MLFLOW_KINDS = frozenset({"model", "version", "run"})
NUMERIC_OPS = ("<", "<=", ">", ">=", "=", "!=")
FIELDS = ("kind", "name", "model", "version", "table", "column", "experiment", "pipeline", "status")
PREFIXES = ("metric", "param", "tag")

#: Which kinds each term applies to.
_APPLIES: dict[str, frozenset[str]] = {
    "metric": frozenset({"run", "version", "model", "report"}),
    "param": frozenset({"run", "version", "model"}),
    "tag": frozenset({"run", "version", "model"}),
    "name": ALL,
    "model": frozenset({"version", "model", "report", "deployment"}),
    "version": frozenset({"version", "report"}),
    "table": frozenset({"table", "column", "report", "run"}),
    "column": frozenset({"column"}),
    "experiment": frozenset({"run"}),
    "pipeline": frozenset({"pipeline", "run"}),
    "status": frozenset({"run", "deployment", "pipeline"}),
    "word": ALL,
}
_KEY = re.compile(r"^[\w\-.:/ ]{1,250}$")
_VERSION = re.compile(r"^[1-9]\d{0,9}$")


@dataclass
class RunFilter:
    """A run search: MLflow's filter string, numeric param checks MLflow cannot do, experiments."""

    filter: str
    #: (param, op, number): params are strings in MLflow, so ``param.C >= 1`` is checked here
    numeric_params: list[tuple[str, str, float]] = field(default_factory=list)
    #: experiment name fragments (``experiment:x``), matched case-insensitively
    experiments: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Condition:
    """One term as the platform's search index answers it (:mod:`search.index`).

    ``what``: name (holds ``value``), metric, param, param_number, tag, dataset, status,
    model (name equals ``value``), version.
    """

    what: str
    value: str | float
    key: str = ""
    op: str = "="


@dataclass
class IndexWhere:
    """What the index is asked, per kind of MLflow object (terms ANDed)."""

    runs: list[Condition] = field(default_factory=list)
    versions: list[Condition] = field(default_factory=list)
    models: list[Condition] = field(default_factory=list)


@dataclass
class ClausePlan:
    """One clause compiled: its kinds and what each backend is asked."""

    terms: list[Term]
    kinds: set[str]
    runs: RunFilter | None = None  # runs, and versions/models through their runs
    versions: str = ""  # search_model_versions filter (name, version, tags)
    models: str = ""  # search_registered_models filter (name, tags)
    #: the clause needs runs to find versions/models (metric / param terms)
    versions_by_run: bool = False
    reports: reports_query.Query | None = None
    words: list[str] = field(default_factory=list)  # lower-cased free words
    fields: dict[str, str] = field(default_factory=dict)  # name/model/table/... (lower-cased)
    #: the same MLflow terms for the platform's search index
    where: IndexWhere = field(default_factory=IndexWhere)
    #: what one search already fetched for this clause (versions serve the models kind too)
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass
class Plan:
    """A whole query compiled: one plan per OR clause."""

    query: Query
    clauses: list[ClausePlan]


def compile_query(text: str, kinds: set[str] | None = None) -> Plan:
    """Parse and compile ``text``; ``kinds`` (the REST ``kind=``) narrows every clause."""
    query = grammar.parse(text)
    return Plan(query, [_clause(c.terms, kinds) for c in query.clauses])


def parse_kinds(value: str, term: Term | None = None) -> set[str]:
    """``model|version`` (or ``models,versions``) as a set of kinds."""
    kinds = set()
    for part in re.split(r"[|,]", value.lower()):
        name = part.strip()
        name = name[:-1] if name.endswith("s") and name[:-1] in KINDS else name
        if name not in KINDS:
            message = f"unknown kind {part.strip()!r} (use {', '.join(KINDS)})"
            if term is not None:
                raise term.error(message)
            raise QueryError(message, 0, value)
        kinds.add(name)
    return kinds


def quoted(value: str) -> str:
    """``value`` as a string literal of an MLflow filter."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise QueryError("a value cannot hold both ' and \"", 0, value)


def _like(value: str) -> str:
    return quoted(f"%{value}%")


def _key(term: Term, key: str) -> str:
    if not _KEY.match(key) or "`" in key:
        raise term.error(f"invalid name {key!r}")
    return f"`{key}`"


def _clause(terms: list[Term], requested: set[str] | None) -> ClausePlan:
    builder = _ClauseBuilder(terms, requested)
    for term in terms:
        builder.add(term)
    return builder.plan()


class _ClauseBuilder:
    """Compiles one clause term by term."""

    def __init__(self, terms: list[Term], requested: set[str] | None) -> None:
        self.terms = terms
        self.kinds = set(requested) if requested else set(KINDS)
        self.explicit = bool(requested)  # kinds asked for (kind=, kind:)
        self.about_versions = False  # a term only versions answer well (tags, version:)
        self.versions_by_run = False
        self.runs: list[str] = []
        self.versions: list[str] = []
        self.models: list[str] = []
        self.numeric_params: list[tuple[str, str, float]] = []
        self.experiments: list[str] = []
        self.report_terms: list[Term] = []
        self.words: list[str] = []
        self.fields: dict[str, str] = {}
        self.where = IndexWhere()

    def add(self, term: Term) -> None:
        applies = _applies(term)
        if term.kind == "field" and term.name == "kind":
            self.kinds &= parse_kinds(term.value, term)
            self.explicit = True
        else:
            self.kinds &= applies
        if not self.kinds:
            raise term.error("no kind of result has this together with the terms before it")
        _check(term)
        if term.kind == "compare" or term.name.startswith("tag."):
            self._compare(term)
        elif term.kind == "word":
            self.words.append(term.value.lower())
            self._name_like(term.value)
            self.report_terms.append(term)
        elif term.name != "kind":
            self._field(term)

    def _name_like(self, value: str) -> None:
        self.runs.append(f"attributes.run_name ILIKE {_like(value)}")
        self.versions.append(f"name ILIKE {_like(value)}")
        self.models.append(f"name ILIKE {_like(value)}")
        name = Condition("name", value.lower())
        self.where.runs.append(name)
        self.where.versions.append(name)
        self.where.models.append(name)

    def _compare(self, term: Term) -> None:
        prefix, _, key = term.name.partition(".")
        name = _key(term, key)
        op = "=" if term.kind == "field" else term.op  # tag.team:fraud
        if prefix == "metric":
            assert term.number is not None
            self.where.runs.append(Condition("metric", term.number, key, op))
            self.runs.append(f"metrics.{name} {op} {term.number!r}")
            self.versions_by_run = True
            self.report_terms.append(term)
        elif prefix == "param":
            self.versions_by_run = True
            if op in ("=", "!="):
                self.runs.append(f"params.{name} {op} {quoted(term.value)}")
                self.where.runs.append(Condition("param", term.value, key, op))
            else:
                number = term.number
                assert number is not None
                self.runs.append(f"params.{name} IS NOT NULL")
                self.numeric_params.append((key, op, number))
                self.where.runs.append(Condition("param_number", number, key, op))
        else:
            tag = f"tags.{name} {op} {quoted(term.value)}"
            self.runs.append(tag)
            self.versions.append(tag)
            self.models.append(tag)
            condition = Condition("tag", term.value, key, op)
            self.where.runs.append(condition)
            self.where.versions.append(condition)
            self.where.models.append(condition)
            self.about_versions = True

    def _field(self, term: Term) -> None:
        name, value = term.name, term.value
        self.fields[name] = value if name == "status" else value.lower()
        if name == "name":
            self._name_like(value)
            self.report_terms.append(
                Term("word", value, position=term.position, text=term.text, quoted=True)
            )
        elif name == "model":
            self.versions.append(f"name ILIKE {quoted(value)}")
            self.models.append(f"name ILIKE {quoted(value)}")
            self.where.versions.append(Condition("model", value.lower()))
            self.where.models.append(Condition("model", value.lower()))
            self.report_terms.append(term)
        elif name == "version":
            self.versions.append(f"version_number = {int(value)}")
            self.where.versions.append(Condition("version", int(value)))
            self.report_terms.append(term)
            self.about_versions = True
        elif name == "table":
            self.runs.append(f"datasets.name = {quoted(value)}")
            self.where.runs.append(Condition("dataset", value))
            self.report_terms.append(term)
        elif name == "experiment":
            self.experiments.append(value.lower())
        elif name == "pipeline":
            self.runs.append(f"tags.`{PIPELINE_TAG}dag_id` = {quoted(value)}")
            self.where.runs.append(Condition("tag", value, f"{PIPELINE_TAG}dag_id"))
        elif name == "status":
            self.runs.append(f"attributes.status = {quoted(value.upper())}")
            self.where.runs.append(Condition("status", value.upper()))

    def plan(self) -> ClausePlan:
        kinds = self.kinds
        # versions answer words only through their model's name: listed when asked for, or
        # when a term is about versions, not for every model a word finds
        if not (self.explicit or self.about_versions or self.versions_by_run):
            kinds.discard("version")
        plan = ClausePlan(
            terms=self.terms,
            kinds=kinds,
            versions=" and ".join(self.versions),
            models=" and ".join(self.models),
            versions_by_run=self.versions_by_run,
            words=self.words,
            fields=self.fields,
            where=self.where,
        )
        if "run" in kinds or self.versions_by_run:
            plan.runs = RunFilter(" and ".join(self.runs), self.numeric_params, self.experiments)
        if "report" in kinds:
            plan.reports = _reports_query(self.report_terms)
            if plan.reports is None:
                kinds.discard("report")
        return plan


def _applies(term: Term) -> frozenset[str]:
    if term.kind == "word":
        return _APPLIES["word"]
    prefix, dot, _ = term.name.partition(".")
    if dot:
        if prefix not in PREFIXES:
            raise term.error(f"unknown field {term.name!r} (use metric.<m>, param.<p>, tag.<t>)")
        return _APPLIES[prefix]
    if term.kind == "compare":
        raise term.error(f"{term.name!r} cannot be compared: use metric.<m>, param.<p>, tag.<t>")
    if term.name == "kind":
        return ALL
    if term.name not in _APPLIES or term.name == "word":
        raise term.error(
            f"unknown field {term.name!r} (use {', '.join(FIELDS)}, metric.<m>, param.<p>, tag.<t>)"
        )
    return _APPLIES[term.name]


def _check(term: Term) -> None:
    """Values each term needs (numbers for metrics, operators per prefix)."""
    if term.kind == "compare":
        prefix = term.name.partition(".")[0]
        if prefix == "metric" and term.number is None:
            raise term.error(f"a metric is compared with a number, not {term.value!r}")
        if prefix == "param" and term.op not in ("=", "!=") and term.number is None:
            raise term.error(f"{term.op} compares a param with a number, not {term.value!r}")
        if prefix == "tag" and term.op not in ("=", "!="):
            raise term.error("tags are compared with = or != only")
    elif term.kind == "field":
        if term.name.partition(".")[0] in ("metric", "param"):
            raise term.error(f"compare {term.name} with an operator, e.g. {term.name} < 1")
        if term.name == "version" and not _VERSION.match(term.value):
            raise term.error("version is a number like 3")


def _reports_query(terms: list[Term]) -> reports_query.Query | None:
    """The reports index's query for these terms; None when one has no meaning for reports
    (``metric.m != 1``, a word with symbols): the clause then searches the other kinds."""
    try:
        return reports_query.of_terms(terms)
    except InvalidInput:
        return None
