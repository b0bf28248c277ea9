# storage tests
