"""The demo register: about 40 systems a logistics company like Northwind runs on.

Spend is deliberately uneven, as it is in real life: the payment gateway and the ERP get too
little, the intranet and the marketing site too much; a few RTOs exceed the downtime the
business can bear.
"""

from decimal import Decimal

from django.utils import timezone

from bastion.people.models import Person
from bastion.systems.models import BusinessSystem, DataClassification, Hosting, SecurityBudget

# One letter per classification keeps the table readable.
P, I, C, R = (DataClassification.PUBLIC,  # noqa: E741
              DataClassification.INTERNAL, DataClassification.CONFIDENTIAL,
              DataClassification.RESTRICTED)
ONP, PRIV, PUB, SAAS, HYB = (Hosting.ON_PREMISES, Hosting.PRIVATE_CLOUD, Hosting.PUBLIC_CLOUD, Hosting.SAAS,
                             Hosting.HYBRID)
# Regulated-data flags: personal, health, card, financial reporting.
NONE, PD, PD_FIN, FIN, PD_CARD, PD_HEALTH = "", "p", "pf", "f", "pc", "ph"

# name, owner's title, processes (;), classification, flags, users, hosting, detail, depends on (;),
# RTO, RPO, MTD (hours), annual security spend, description.
SYSTEMS = [
    ("Entra ID", "CIO", "Sign-in for every employee;Access to business applications", R, PD, 1200, SAAS,
     "Microsoft, EU data boundary", "Corporate network", 2, 0.25, 4, 85000, "Identity provider and single sign-on."),
    ("Corporate network", "CIO", "Office and depot connectivity", C, NONE, 1200, ONP, "Cisco SD-WAN, 14 sites",
     "", 4, 0, 8, 60000, "WAN, LAN and Wi-Fi across offices and depots."),
    ("VPN", "CIO", "Remote work;Depot access for drivers' tablets", C, NONE, 700, HYB, "Palo Alto GlobalProtect",
     "Entra ID;Corporate network", 4, 0, 24, 25000, ""),
    ("SAP S/4HANA ERP", "CFO", "Order to cash;Procure to pay;Inventory valuation", R, PD_FIN, 450, PRIV,
     "Hosted by T-Systems, Frankfurt", "Entra ID;Corporate network;Oracle database cluster", 8, 1, 24, 15000,
     "The core of the business: orders, purchasing, stock and finance."),
    ("General ledger", "CFO", "Financial close;Statutory reporting", R, FIN, 40, PRIV, "SAP FI module",
     "SAP S/4HANA ERP", 24, 4, 72, 12000, ""),
    ("Manhattan WMS", "COO", "Receiving;Picking and packing;Shipping", C, NONE, 600, PRIV,
     "Manhattan Active, Azure West Europe", "SAP S/4HANA ERP;Entra ID;Corporate network;Handheld scanners", 4, 0.5,
     8, 40000, "Warehouse management for all eight distribution centres."),
    ("Oracle TMS", "COO", "Route planning;Carrier booking;Freight settlement", C, NONE, 180, SAAS,
     "Oracle Cloud", "SAP S/4HANA ERP;Entra ID;EDI gateway", 48, 4, 24, 18000,
     "Transport management: loads, routes, carriers."),
    ("EDI gateway", "COO", "Orders and advance shipping notices with customers;Carrier messages", C, NONE, 15, ONP,
     "Seeburger BIS, own data centre", "Corporate network;SAP S/4HANA ERP", 4, 0.25, 12, 9000,
     "EDIFACT and X12 exchange with 300 trading partners."),
    ("Fleet telematics", "COO", "Vehicle tracking;Driver hours", C, PD, 900, SAAS, "Samsara", "Oracle TMS", 24, 1,
     72, 6000, "GPS and driver behaviour from 650 trucks."),
    ("Handheld scanners", "COO", "Picking and packing", I, NONE, 500, ONP, "Zebra MDM", "Corporate network", 8, 0,
     24, 4000, ""),
    ("Customer portal", "VP Customer Experience", "Shipment tracking;Customer self-service", C, PD, 8000, PUB,
     "AWS eu-west-1", "Oracle TMS;Entra ID;Salesforce CRM", 4, 1, 12, 30000,
     "Customers book, track and download proof of delivery."),
    ("E-commerce site", "CMO", "Online orders from small businesses", C, PD_CARD, 20000, PUB, "Shopify Plus",
     "Payment gateway;SAP S/4HANA ERP", 2, 0.25, 8, 20000, ""),
    ("Payment gateway", "CFO", "Card payments;Refunds", R, PD_CARD, 20000, SAAS, "Adyen", "", 1, 0, 4, 2000,
     "Card payments for the e-commerce site and the customer portal."),
    ("Salesforce CRM", "VP Sales", "Lead to order;Account management", C, PD, 220, SAAS, "Salesforce, EU instance",
     "Entra ID", 24, 4, 72, 14000, ""),
    ("Workday HRIS", "Chief People Officer", "Hire to retire;Org chart", R, PD_HEALTH, 1200, SAAS, "Workday",
     "Entra ID", 48, 24, 120, 16000, "Employee records, including sickness absence."),
    ("Payroll", "Chief People Officer", "Pay employees;Tax filings", R, PD_FIN, 12, SAAS, "ADP",
     "Workday HRIS", 24, 24, 72, 4000, "Monthly payroll for five countries."),
    ("Expense management", "CFO", "Travel and expenses", C, PD_FIN, 900, SAAS, "SAP Concur",
     "Entra ID;SAP S/4HANA ERP", 72, 24, 240, 3000, ""),
    ("Data warehouse", "CIO", "Management reporting;Margin analysis", C, PD_FIN, 60, PUB, "Snowflake, AWS Frankfurt",
     "SAP S/4HANA ERP;Manhattan WMS;Oracle TMS;Salesforce CRM", 48, 24, 168, 11000, ""),
    ("Power BI", "CFO", "Management reporting", C, FIN, 150, SAAS, "Microsoft", "Data warehouse;Entra ID", 72, 24,
     168, 2500, ""),
    ("Microsoft 365 email", "CIO", "Email;Calendars", C, PD, 1200, SAAS, "Microsoft, EU data boundary",
     "Entra ID", 8, 1, 24, 28000, ""),
    ("Teams", "CIO", "Meetings;Chat", I, PD, 1200, SAAS, "Microsoft", "Entra ID", 8, 4, 24, 8000, ""),
    ("File shares", "CIO", "Department documents", C, PD, 1000, ONP, "Windows file servers, Dublin DC",
     "Corporate network;Entra ID;Backup", 24, 24, 72, 7000, ""),
    ("SharePoint intranet", "CIO", "Internal news;Policies", I, NONE, 1200, SAAS, "Microsoft", "Entra ID", 72, 24,
     336, 45000, "Company news and policies: little at stake, generously protected."),
    ("Marketing website", "CMO", "Brand;Lead generation", P, NONE, 0, SAAS, "WordPress VIP",
     "", 24, 24, 168, 35000, "Public brochure site."),
    ("Marketing automation", "CMO", "Campaigns;Newsletter", C, PD, 12, SAAS, "HubSpot", "Salesforce CRM", 72, 24,
     336, 2000, ""),
    ("ServiceNow", "CIO", "IT support;Change management", I, PD, 1200, SAAS, "ServiceNow", "Entra ID", 24, 4, 72,
     9000, "IT service desk and change management."),
    ("Customer support desk", "VP Customer Experience", "Customer cases;Claims for damaged goods", C, PD, 80, SAAS,
     "Zendesk", "Entra ID;Salesforce CRM", 8, 4, 24, 5000, ""),
    ("Contact centre telephony", "VP Customer Experience", "Customer calls", C, PD, 80, SAAS, "Genesys Cloud",
     "Corporate network", 2, 0, 4, 3000, ""),
    ("GitHub", "VP Engineering", "Software development", C, NONE, 90, SAAS, "GitHub Enterprise Cloud",
     "Entra ID", 24, 1, 72, 12000, "Source code of the customer portal and integrations."),
    ("CI/CD pipelines", "VP Engineering", "Software releases", C, NONE, 90, SAAS, "GitHub Actions",
     "GitHub;AWS landing zone", 24, 4, 72, 6000, ""),
    ("AWS landing zone", "VP Engineering", "Hosting of customer-facing applications", C, NONE, 40, PUB,
     "AWS eu-west-1 and eu-central-1", "Entra ID", 4, 1, 12, 22000, ""),
    ("Oracle database cluster", "CIO", "ERP database", R, PD_FIN, 5, PRIV, "Exadata at T-Systems", "Backup", 8, 1,
     24, 10000, ""),
    ("Backup", "CIO", "Restore after failure or ransomware", R, PD_FIN, 6, HYB, "Veeam with immutable copy in Azure",
     "Corporate network", 24, 24, 72, 8000, ""),
    ("Contract management", "General Counsel", "Customer and supplier contracts", C, NONE, 30, SAAS, "Ironclad",
     "Entra ID", 72, 24, 336, 1500, ""),
    ("Legal hold and e-discovery", "General Counsel", "Litigation", R, PD, 4, SAAS, "Microsoft Purview",
     "Microsoft 365 email;Entra ID", 168, 24, 720, 1000, ""),
    ("Procurement portal", "CFO", "Supplier onboarding;Tenders", C, FIN, 60, SAAS, "Coupa",
     "SAP S/4HANA ERP;Entra ID", 48, 24, 168, 2000, ""),
    ("Treasury and banking", "CFO", "Supplier payments;Cash management", R, FIN, 8, SAAS, "Kyriba",
     "SAP S/4HANA ERP;Entra ID", 8, 1, 24, 4000, "Payment runs to suppliers: the target of invoice fraud."),
    ("Dock scheduling", "COO", "Inbound appointments", I, NONE, 300, SAAS, "Opendock",
     "Manhattan WMS", 24, 4, 48, 1000, ""),
    ("Yard management", "COO", "Trailer moves at depots", I, NONE, 120, SAAS, "C3 Reservations",
     "Manhattan WMS;Fleet telematics", 24, 4, 48, 1000, ""),
    ("Occupational health records", "Chief People Officer", "Driver medicals;Workplace injuries", R, PD_HEALTH, 6,
     SAAS, "Cority", "Entra ID;Workday HRIS", 72, 24, 168, 1200, ""),
    ("Security monitoring (SIEM)", "CISO", "Detect and respond to attacks", R, PD, 8, SAAS, "Microsoft Sentinel",
     "Entra ID", 8, 1, 24, 40000, ""),
    ("Legacy customs system", "COO", "Customs declarations (being replaced)", C, FIN, 10, ONP, "AS/400, Dublin DC",
     "Corporate network", 72, 24, 168, 0, "Retired after the move to the TMS's customs module."),
]
RETIRED = {"Legacy customs system"}


def load_systems(today=None) -> int:
    """Add the demo systems (owners found by title in the demo directory) and this year's budget."""
    owners = {p.title: p for p in Person.objects.filter(title__in={row[1] for row in SYSTEMS}).order_by("id")}
    now = timezone.now()
    created: dict[str, BusinessSystem] = {}
    for (name, owner_title, processes, classification, flags, users, hosting, detail, _, rto, rpo, mtd,
         spend, description) in SYSTEMS:
        created[name] = BusinessSystem(
            name=name, description=description, owner=owners.get(owner_title),
            business_processes="\n".join(processes.split(";")), data_classification=classification,
            personal_data="p" in flags, health_data="h" in flags, card_data="c" in flags,
            financial_reporting="f" in flags, users_count=users, hosting=hosting, hosting_detail=detail,
            rto_hours=Decimal(str(rto)), rpo_hours=Decimal(str(rpo)), mtd_hours=Decimal(str(mtd)),
            security_spend=Decimal(spend), status="retired" if name in RETIRED else "active",
            created_at=now, updated_at=now,
        )
    BusinessSystem.objects.bulk_create(created.values())
    through = BusinessSystem.dependencies.through
    through.objects.bulk_create([
        through(from_businesssystem_id=created[row[0]].pk, to_businesssystem_id=created[dep].pk)
        for row in SYSTEMS for dep in row[8].split(";") if dep
    ])
    year = (today or timezone.localdate()).year
    SecurityBudget.objects.create(year=year, total=Decimal(750_000), currency="EUR")
    return len(created)
