"""US geography for the simulator: where customers live, and how far apart places are."""

from __future__ import annotations

import math

# Approximate population centres (lat, lon) and populations in millions of the
# 50 states and DC. Customers are spread over states by population so that the
# simulated geography looks like a real card portfolio, not a uniform map.
STATES: dict[str, tuple[float, float, float]] = {
    "AL": (32.8, -86.8, 5.1), "AK": (61.2, -149.9, 0.7), "AZ": (33.5, -112.0, 7.4),
    "AR": (34.8, -92.3, 3.1), "CA": (35.5, -119.5, 39.0), "CO": (39.7, -105.0, 5.9),
    "CT": (41.6, -72.7, 3.6), "DE": (39.2, -75.5, 1.0), "DC": (38.9, -77.0, 0.7),
    "FL": (28.1, -81.6, 22.6), "GA": (33.6, -84.2, 11.0), "HI": (21.3, -157.9, 1.4),
    "ID": (43.6, -116.2, 1.9), "IL": (41.5, -88.4, 12.5), "IN": (39.8, -86.2, 6.9),
    "IA": (41.9, -93.2, 3.2), "KS": (38.5, -97.5, 2.9), "KY": (37.8, -85.3, 4.5),
    "LA": (30.7, -91.5, 4.6), "ME": (44.3, -69.8, 1.4), "MD": (39.1, -76.8, 6.2),
    "MA": (42.3, -71.4, 7.0), "MI": (42.8, -84.0, 10.0), "MN": (45.0, -93.4, 5.7),
    "MS": (32.5, -89.7, 2.9), "MO": (38.4, -92.2, 6.2), "MT": (46.6, -111.0, 1.1),
    "NE": (41.0, -97.4, 2.0), "NV": (36.7, -116.0, 3.2), "NH": (43.2, -71.5, 1.4),
    "NJ": (40.4, -74.4, 9.3), "NM": (34.8, -106.4, 2.1), "NY": (41.5, -74.6, 19.6),
    "NC": (35.6, -79.4, 10.8), "ND": (47.4, -99.5, 0.8), "OH": (40.5, -82.7, 11.8),
    "OK": (35.6, -96.8, 4.0), "OR": (44.7, -122.6, 4.2), "PA": (40.5, -77.0, 13.0),
    "RI": (41.8, -71.4, 1.1), "SC": (34.0, -81.0, 5.4), "SD": (44.0, -98.8, 0.9),
    "TN": (35.8, -86.4, 7.1), "TX": (30.9, -97.4, 30.5), "UT": (40.4, -111.9, 3.4),
    "VT": (44.1, -72.8, 0.6), "VA": (37.9, -77.8, 8.7), "WA": (47.3, -121.6, 7.8),
    "WV": (38.6, -80.9, 1.8), "WI": (43.7, -89.0, 5.9), "WY": (42.5, -106.8, 0.6),
}

EARTH_RADIUS_KM = 6371.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points, in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def utc_offset_seconds(longitude: float) -> int:
    """Solar time offset from UTC (negative in the US): daily habits peak at local noon."""
    return round(longitude / 15.0 * 3600)
