"""The API's routes, one module per concern; each calls churnml and holds no model maths."""
