"""The company behind a QuickBooks grant: name, home currency and a best-guess time zone.

QuickBooks exposes no company time zone through the API. We guess one from the company address
(CompanyAddr, else LegalAddr): countries with one zone map directly; in the US, Canada and
Australia the state or province picks the zone. Anything else gives None, and the caller falls
back to its default (and lets the admin correct it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.base import Tenant

COUNTRY_ALIASES = {
    "USA": "US",
    "UNITED STATES": "US",
    "UNITED STATES OF AMERICA": "US",
    "CAN": "CA",
    "CANADA": "CA",
    "AUS": "AU",
    "AUSTRALIA": "AU",
    "UK": "GB",
    "GBR": "GB",
    "UNITED KINGDOM": "GB",
    "IRELAND": "IE",
    "INDIA": "IN",
    "NEW ZEALAND": "NZ",
    "SOUTH AFRICA": "ZA",
    "SINGAPORE": "SG",
    "FRANCE": "FR",
}

SINGLE_ZONE = {
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "IN": "Asia/Kolkata",
    "NZ": "Pacific/Auckland",
    "ZA": "Africa/Johannesburg",
    "SG": "Asia/Singapore",
    "HK": "Asia/Hong_Kong",
    "PH": "Asia/Manila",
    "MY": "Asia/Kuala_Lumpur",
    "AE": "Asia/Dubai",
    "FR": "Europe/Paris",
    "DE": "Europe/Berlin",
    "ES": "Europe/Madrid",
    "IT": "Europe/Rome",
    "NL": "Europe/Amsterdam",
    "BE": "Europe/Brussels",
    "JM": "America/Jamaica",
    "TT": "America/Port_of_Spain",
}

# State/province -> zone, written as zone -> codes to stay short. Split states take the zone
# of most of their people.
_REGIONS = {
    "US": {
        "America/New_York": "CT DC DE FL GA IN KY MA MD ME MI NC NH NJ NY OH PA RI SC VA VT WV",
        "America/Chicago": "AL AR IA IL KS LA MN MO MS ND NE OK SD TN TX WI",
        "America/Denver": "CO ID MT NM UT WY",
        "America/Phoenix": "AZ",
        "America/Los_Angeles": "CA NV OR WA",
        "America/Anchorage": "AK",
        "Pacific/Honolulu": "HI",
        "America/Puerto_Rico": "PR VI",
    },
    "CA": {
        "America/Vancouver": "BC",
        "America/Edmonton": "AB",
        "America/Regina": "SK",
        "America/Winnipeg": "MB",
        "America/Toronto": "ON QC",
        "America/Halifax": "NB NS PE",
        "America/St_Johns": "NL",
        "America/Whitehorse": "YT",
        "America/Yellowknife": "NT",
        "America/Iqaluit": "NU",
    },
    "AU": {
        "Australia/Sydney": "NSW ACT",
        "Australia/Melbourne": "VIC",
        "Australia/Brisbane": "QLD",
        "Australia/Adelaide": "SA",
        "Australia/Perth": "WA",
        "Australia/Hobart": "TAS",
        "Australia/Darwin": "NT",
    },
}
REGION_ZONES = {
    country: {code: zone for zone, codes in zones.items() for code in codes.split()}
    for country, zones in _REGIONS.items()
}


def country_code(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().upper()
    return COUNTRY_ALIASES.get(text, text)


def guess_timezone(info: Mapping[str, Any]) -> str | None:
    """An IANA zone for a CompanyInfo object, or None when the address does not decide it."""
    address = info.get("CompanyAddr") or info.get("LegalAddr") or {}
    if not isinstance(address, dict):
        address = {}
    country = country_code(address.get("Country")) or country_code(info.get("Country"))
    if country is None:
        return None
    if country in SINGLE_ZONE:
        return SINGLE_ZONE[country]
    region = str(address.get("CountrySubDivisionCode") or "").strip().upper()
    return REGION_ZONES.get(country, {}).get(region)


def tenant(realm_id: str, info: Mapping[str, Any], preferences: Mapping[str, Any]) -> Tenant:
    """A Tenant from the CompanyInfo and Preferences objects of one realm."""
    currency_prefs = preferences.get("CurrencyPrefs") or {}
    home = currency_prefs.get("HomeCurrency") if isinstance(currency_prefs, dict) else None
    currency = home.get("value") if isinstance(home, dict) else None
    name = info.get("CompanyName") or info.get("LegalName") or f"QuickBooks company {realm_id}"
    return Tenant(
        external_id=realm_id,
        name=str(name),
        currency=str(currency) if currency else None,
        timezone=guess_timezone(info),
    )
