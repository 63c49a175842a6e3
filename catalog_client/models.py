"""Typed HSDS 3.0 objects, as far as Bussola reads them.

Every model allows unknown fields (another HSDS server may add its own, or a newer HSDS version may)
and every field but the identifier is optional: HSDS servers in the wild leave out much, and a
record that lacks a phone must still be shown. Strict checking against the official JSON Schema is
done where records enter the catalogue by hand (``catalog_client.schema``), not here.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator


class HSDSModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def _none_list(value: Any) -> Any:
    """Servers send ``null`` for an empty array as often as ``[]``."""
    return [] if value is None else value


class Taxonomy(HSDSModel):
    id: str
    name: str = ""
    description: str = ""
    uri: str | None = None
    version: str | None = None


class TaxonomyTerm(HSDSModel):
    id: str
    code: str | None = None
    name: str = ""
    description: str = ""
    parent_id: str | None = None
    taxonomy: str | None = None
    taxonomy_id: str | None = None
    taxonomy_detail: Taxonomy | None = None
    language: str | None = None


class Attribute(HSDSModel):
    id: str = ""
    taxonomy_term_id: str | None = None
    link_id: str | None = None
    link_type: str | None = None
    link_entity: str | None = None
    value: str | None = None
    taxonomy_term: TaxonomyTerm | None = None


class Language(HSDSModel):
    id: str = ""
    name: str | None = None
    code: str | None = None


class Phone(HSDSModel):
    id: str = ""
    number: str = ""
    extension: float | None = None
    type: str | None = None
    description: str | None = None
    languages: list[Language] = Field(default_factory=list)

    empty_lists = field_validator("languages", mode="before")(_none_list)


class Schedule(HSDSModel):
    id: str = ""
    valid_from: str | None = None
    valid_to: str | None = None
    dtstart: str | None = None
    until: str | None = None
    wkst: str | None = None
    freq: str | None = None
    interval: float | None = None
    byday: str | None = None
    bymonthday: str | None = None
    description: str | None = None
    opens_at: str | None = None
    closes_at: str | None = None
    attending_type: str | None = None
    notes: str | None = None


class Address(HSDSModel):
    id: str = ""
    attention: str | None = None
    address_1: str = ""
    address_2: str | None = None
    city: str = ""
    region: str | None = None
    state_province: str | None = None
    postal_code: str = ""
    country: str = ""
    address_type: str | None = None


class Location(HSDSModel):
    id: str = ""
    location_type: str | None = None
    url: str | None = None
    name: str | None = None
    alternate_name: str | None = None
    description: str | None = None
    transportation: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    addresses: list[Address] = Field(default_factory=list)
    phones: list[Phone] = Field(default_factory=list)
    schedules: list[Schedule] = Field(default_factory=list)
    attributes: list[Attribute] = Field(default_factory=list)

    empty_lists = field_validator("addresses", "phones", "schedules", "attributes", mode="before")(_none_list)


class ServiceAtLocation(HSDSModel):
    id: str
    service_id: str | None = None
    location_id: str | None = None
    description: str | None = None
    phones: list[Phone] = Field(default_factory=list)
    schedules: list[Schedule] = Field(default_factory=list)
    location: Location | None = None
    attributes: list[Attribute] = Field(default_factory=list)

    empty_lists = field_validator("phones", "schedules", "attributes", mode="before")(_none_list)


class ServiceArea(HSDSModel):
    id: str = ""
    name: str | None = None
    description: str | None = None
    extent: str | None = None
    extent_type: str | None = None
    uri: str | None = None


class RequiredDocument(HSDSModel):
    id: str = ""
    document: str | None = None
    uri: str | None = None


class CostOption(HSDSModel):
    id: str = ""
    option: str | None = None
    currency: str | None = None
    amount: float | None = None
    amount_description: str | None = None


class Organization(HSDSModel):
    id: str
    name: str = ""
    alternate_name: str | None = None
    description: str | None = None
    email: str | None = None
    website: str | None = None
    phones: list[Phone] = Field(default_factory=list)

    empty_lists = field_validator("phones", mode="before")(_none_list)


class Service(HSDSModel):
    id: str
    organization_id: str | None = None
    name: str = ""
    alternate_name: str | None = None
    description: str | None = None
    url: str | None = None
    email: str | None = None
    status: str = "active"
    interpretation_services: str | None = None
    application_process: str | None = None
    fees_description: str | None = None
    wait_time: str | None = None
    eligibility_description: str | None = None
    minimum_age: float | None = None
    maximum_age: float | None = None
    alert: str | None = None
    last_modified: str | None = None
    phones: list[Phone] = Field(default_factory=list)
    schedules: list[Schedule] = Field(default_factory=list)
    service_areas: list[ServiceArea] = Field(default_factory=list)
    service_at_locations: list[ServiceAtLocation] = Field(default_factory=list)
    languages: list[Language] = Field(default_factory=list)
    organization: Organization | None = None
    cost_options: list[CostOption] = Field(default_factory=list)
    required_documents: list[RequiredDocument] = Field(default_factory=list)
    attributes: list[Attribute] = Field(default_factory=list)

    empty_lists = field_validator(
        "phones",
        "schedules",
        "service_areas",
        "service_at_locations",
        "languages",
        "cost_options",
        "required_documents",
        "attributes",
        mode="before",
    )(_none_list)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """The HSDS 3.0 API's list envelope. Every counter is optional: servers fill it unevenly."""

    model_config = ConfigDict(extra="allow")

    total_items: int | None = None
    total_pages: int | None = None
    page_number: int | None = None
    size: int | None = None
    first_page: bool | None = None
    last_page: bool | None = None
    empty: bool | None = None
    contents: list[T] = Field(default_factory=list)

    empty_lists = field_validator("contents", mode="before")(_none_list)
