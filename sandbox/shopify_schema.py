"""The slice of Shopify's Admin GraphQL schema the stand-in shop serves, and its cost rules.

The SDL below follows the Admin GraphQL reference (shopify.dev/docs/api/admin-graphql,
versions 2025-04 to 2026-04) for the types Hookline uses, with the same names, argument
names and nullability, so a document that validates here validates there. It is a subset:
fields and arguments Hookline does not use are left out, which makes the stand-in
*stricter* than Shopify (a document using them fails validation), never more lenient.
``orders``/``customers`` take ``first``/``after`` only (no ``last``/``before``).

Cost (shopify.dev "GraphQL Admin API rate limits", "Cost calculation"): a scalar or enum
field costs 0, an object field (or a list of objects, e.g. ``customAttributes``) 1, a
connection 2 plus ``first`` times the cost of one node (its selection included, nested
connections too: an order's ``lineItems(first: 10)`` inside ``orders(first: 18)`` is paid
18 * 10 times), and every top-level mutation field 10.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    build_schema,
    get_named_type,
    is_leaf_type,
)

MUTATION_COST = 10
CONNECTION_COST = 2
OBJECT_COST = 1

SDL = """
directive @idempotent(key: String!) on FIELD

scalar DateTime

interface Node { id: ID! }

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

enum OrderDisplayFinancialStatus {
  PENDING AUTHORIZED PARTIALLY_PAID PARTIALLY_REFUNDED VOIDED PAID REFUNDED EXPIRED
}

type Metafield implements Node {
  id: ID!
  namespace: String!
  key: String!
  value: String!
  type: String!
}

enum OrderDisplayFulfillmentStatus {
  UNFULFILLED PARTIALLY_FULFILLED FULFILLED RESTOCKED PENDING_FULFILLMENT OPEN IN_PROGRESS
  ON_HOLD SCHEDULED REQUEST_DECLINED
}

scalar Decimal
enum CurrencyCode { EUR USD GBP CHF CAD AUD JPY SEK DKK PLN }
enum CountryCode { DE AT CH FR NL BE IT ES GB IE US CA AU JP SE DK PL }

type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
type Attribute { key: String! value: String }

type MailingAddress implements Node {
  id: ID!
  company: String
  address1: String
  address2: String
  city: String
  province: String
  provinceCode: String
  zip: String
  country: String
  countryCodeV2: CountryCode
}

type Product implements Node { id: ID! title: String! }

type LineItem implements Node {
  id: ID!
  name: String!
  sku: String
  quantity: Int!
  originalUnitPriceSet: MoneyBag!
  product: Product
}

type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }

type Order implements Node {
  id: ID!
  name: String!
  note: String
  tags: [String!]!
  email: String
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  canMarkAsPaid: Boolean!
  createdAt: DateTime!
  updatedAt: DateTime!
  cancelledAt: DateTime
  currencyCode: CurrencyCode!
  totalPriceSet: MoneyBag!
  subtotalPriceSet: MoneyBag
  totalTaxSet: MoneyBag
  customer: Customer
  shippingAddress: MailingAddress
  customAttributes: [Attribute!]!
  lineItems(first: Int, after: String): LineItemConnection!
  metafield(namespace: String, key: String!): Metafield
}

type Customer implements Node {
  id: ID!
  email: String
  firstName: String
  lastName: String
  phone: String
  note: String
  tags: [String!]!
  defaultAddress: MailingAddress
  createdAt: DateTime!
  updatedAt: DateTime!
}

type InventoryQuantity { name: String! quantity: Int! }
type InventoryLevel { id: ID! quantities(names: [String!]!): [InventoryQuantity!]! }
type InventoryItem implements Node {
  id: ID!
  inventoryLevel(locationId: ID!): InventoryLevel
}

type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }
type CustomerEdge { cursor: String! node: Customer! }
type CustomerConnection { edges: [CustomerEdge!]! nodes: [Customer!]! pageInfo: PageInfo! }

enum OrderSortKeys { ID UPDATED_AT }
enum CustomerSortKeys { ID UPDATED_AT }

type Shop { name: String! }

type Query {
  shop: Shop!
  order(id: ID!): Order
  customer(id: ID!): Customer
  inventoryItem(id: ID!): InventoryItem
  orders(first: Int, after: String, query: String, sortKey: OrderSortKeys = ID,
         reverse: Boolean = false): OrderConnection!
  customers(first: Int, after: String, query: String, sortKey: CustomerSortKeys = ID,
            reverse: Boolean = false): CustomerConnection!
}

type UserError { field: [String!] message: String! }

enum CustomerSetUserErrorCode { BLANK INVALID TAKEN NOT_FOUND TOO_LONG }
type CustomerSetUserError { code: CustomerSetUserErrorCode field: [String!] message: String! }

enum MetafieldsSetUserErrorCode { BLANK INVALID INVALID_TYPE INVALID_VALUE LESS_THAN_OR_EQUAL_TO }
type MetafieldsSetUserError {
  code: MetafieldsSetUserErrorCode
  elementIndex: Int
  field: [String!]
  message: String!
}

enum InventoryAdjustQuantitiesUserErrorCode {
  INVALID_INVENTORY_ITEM INVALID_LOCATION INVALID_QUANTITY_NAME INVALID_REASON
  CHANGE_FROM_QUANTITY_STALE IDEMPOTENCY_KEY_REQUIRED
}
type InventoryAdjustQuantitiesUserError {
  code: InventoryAdjustQuantitiesUserErrorCode
  field: [String!]
  message: String!
}

input CustomerSetIdentifiers { id: ID email: String phone: String }
input CustomerSetInput {
  email: String
  firstName: String
  lastName: String
  phone: String
  note: String
  tags: [String!]
}
input OrderInput { id: ID! note: String tags: [String!] email: String }
input OrderMarkAsPaidInput { id: ID! }
input MetafieldsSetInput {
  ownerId: ID!
  namespace: String
  key: String!
  value: String!
  type: String
  compareDigest: String
}
input InventoryChangeInput {
  delta: Int!
  inventoryItemId: ID!
  locationId: ID!
  ledgerDocumentUri: String
  changeFromQuantity: Int
}
input InventoryAdjustQuantitiesInput {
  reason: String!
  name: String!
  referenceDocumentUri: String
  changes: [InventoryChangeInput!]!
}

type InventoryChange { name: String! delta: Int! quantityAfterChange: Int }
type InventoryAdjustmentGroup { id: ID! reason: String! changes: [InventoryChange!]! }

type CustomerSetPayload { customer: Customer userErrors: [CustomerSetUserError!]! }
type TagsAddPayload { node: Node userErrors: [UserError!]! }
type OrderUpdatePayload { order: Order userErrors: [UserError!]! }
type OrderMarkAsPaidPayload { order: Order userErrors: [UserError!]! }
type MetafieldsSetPayload { metafields: [Metafield!] userErrors: [MetafieldsSetUserError!]! }
type InventoryAdjustQuantitiesPayload {
  inventoryAdjustmentGroup: InventoryAdjustmentGroup
  userErrors: [InventoryAdjustQuantitiesUserError!]!
}

type Mutation {
  customerSet(identifier: CustomerSetIdentifiers, input: CustomerSetInput!): CustomerSetPayload
  tagsAdd(id: ID!, tags: [String!]!): TagsAddPayload
  orderUpdate(input: OrderInput!): OrderUpdatePayload
  orderMarkAsPaid(input: OrderMarkAsPaidInput!): OrderMarkAsPaidPayload
  metafieldsSet(metafields: [MetafieldsSetInput!]!): MetafieldsSetPayload
  inventoryAdjustQuantities(
    input: InventoryAdjustQuantitiesInput!
  ): InventoryAdjustQuantitiesPayload
}
"""


def shop_schema() -> GraphQLSchema:
    """The stand-in's schema (built on each call: no import-time work)."""
    return build_schema(SDL)


def requested_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    """The ``requestedQueryCost`` of a validated operation."""
    if operation.operation is OperationType.MUTATION:
        fields = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
        return MUTATION_COST * len([f for f in fields if not f.name.value.startswith("__")])
    root = schema.query_type
    assert root is not None  # noqa: S101 - the SDL defines Query
    return _cost(schema, root, operation.selection_set, fragments, variables)


def _cost(
    schema: GraphQLSchema,
    parent: GraphQLNamedType,
    selections: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    if selections is None:
        return 0
    total = 0
    for node in selections.selections:
        if isinstance(node, InlineFragmentNode):
            cond = node.type_condition
            target = schema.get_type(cond.name.value) if cond else parent
            total += _cost(schema, target or parent, node.selection_set, fragments, variables)
        elif isinstance(node, FragmentSpreadNode):
            fragment = fragments[node.name.value]
            target = schema.get_type(fragment.type_condition.name.value) or parent
            total += _cost(schema, target, fragment.selection_set, fragments, variables)
        elif isinstance(node, FieldNode):
            total += _field_cost(schema, parent, node, fragments, variables)
    return total


def _field_cost(
    schema: GraphQLSchema,
    parent: GraphQLNamedType,
    node: FieldNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    if node.name.value.startswith("__"):
        return 0
    field = getattr(parent, "fields", {})[node.name.value]
    named = get_named_type(field.type)
    if is_leaf_type(named):
        return 0
    if not named.name.endswith("Connection"):
        return OBJECT_COST + _cost(schema, named, node.selection_set, fragments, variables)
    per_node = 0
    for part in node.selection_set.selections if node.selection_set else ():
        if isinstance(part, FieldNode) and part.name.value in ("nodes", "edges"):
            item = get_named_type(getattr(named, "fields", {})[part.name.value].type)
            # ``nodes { … }`` is the node object; ``edges { node { … } }`` counts its node
            # only, so both spellings cost the same.
            own = OBJECT_COST if part.name.value == "nodes" else 0
            inner = _cost(schema, item, part.selection_set, fragments, variables)
            per_node = max(per_node, own + inner)
    return CONNECTION_COST + page_size(node, variables) * per_node


def page_size(node: FieldNode, variables: Mapping[str, Any]) -> int:
    """The ``first`` argument of a connection field; 0 when absent or not an integer."""
    for argument in node.arguments or ():
        if argument.name.value != "first":
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            raw = variables.get(value.name.value)
            return raw if isinstance(raw, int) else 0
    return 0
