"""Plain HTTP: REST twins, pages, cookies, middleware."""
