'use strict';
/*
 * LoopBack 3's own client stack against tessera (issue 12): a LoopBack 3.28
 * app whose User, AccessToken and declared models (models.json) are attached
 * to loopback-connector-remote, which drives strong-remoting's REST client.
 * Nothing here builds a request by hand: every call is the client's own
 * method, so the paths, verbs, query forms and bodies are LoopBack's.
 *
 * The whole sequence runs in both of the client's auth modes:
 *   remotes.auth = {accessToken: {id}}          (Authorization: <token>)
 *   remotes.auth = {bearer: base64(token), ...} (the connector README's setup)
 * Each call asserts what a LoopBack 3 server answers to it.
 *
 * Run by tests/loopback/run.py, which starts tessera and sets TESSERA_URL.
 */
const {describe, test, before} = require('node:test');
const assert = require('node:assert/strict');
const loopback = require('loopback');
const RemoteConnector = require('loopback-connector-remote');

const BASE = process.env.TESSERA_URL;
if (!BASE) throw new Error('TESSERA_URL is not set (run tests/loopback/run.py)');

const ALLOW_AUTH = [{principalType: 'ROLE', principalId: '$authenticated', permission: 'ALLOW'}];

/* One client app: LoopBack's built-in User and AccessToken, and the declared
 * models, all on one remote data source. */
function clientApp() {
  const app = loopback({localRegistry: true, loadBuiltinModels: true});
  const ds = app.dataSource('remote', {connector: RemoteConnector, url: BASE + '/api'});
  const reg = app.registry;
  const Category = reg.createModel({
    name: 'Category', base: 'PersistedModel', plural: 'categories',
    properties: {name: {type: 'string', required: true}},
    relations: {products: {type: 'hasMany', model: 'Product', foreignKey: 'categoryId'}},
    acls: ALLOW_AUTH,
  });
  const Product = reg.createModel({
    name: 'Product', base: 'PersistedModel', plural: 'products',
    properties: {name: {type: 'string', required: true}, price: 'number', qty: 'number',
      categoryId: 'number'},
    relations: {category: {type: 'belongsTo', model: 'Category', foreignKey: 'categoryId'}},
    acls: ALLOW_AUTH,
  });
  app.model(reg.getModel('AccessToken'), {dataSource: ds});
  app.model(reg.getModel('User'), {dataSource: ds});
  app.model(Category, {dataSource: ds});
  app.model(Product, {dataSource: ds});
  return {app, remotes: ds.connector.remotes, User: app.models.User, Category, Product};
}

const MODES = {
  accessToken: (token) => ({accessToken: {id: token}}),
  bearer: (token) => ({bearer: Buffer.from(token).toString('base64'), sendImmediately: true}),
};

/* The error a rejected call gives the client: LoopBack's envelope, unpacked
 * by strong-remoting onto the Error (statusCode, code, details). */
async function rejects(promise, statusCode, code) {
  let err = null;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected a ${statusCode} error`);
  assert.equal(err.statusCode, statusCode, err.message);
  if (code !== undefined) assert.equal(err.code, code, err.message);
  return err;
}

const plain = (x) => JSON.parse(JSON.stringify(x));
const ids = (rows) => rows.map((r) => r.id);

for (const [mode, authFor] of Object.entries(MODES)) {
  describe(`LoopBack 3 client, auth mode ${mode}`, () => {
    const c = clientApp();
    const tag = `${mode.toLowerCase()}-${process.pid}-${Date.now()}`;
    const alice = {email: `alice-${tag}@example.com`, username: `alice-${tag}`, password: 'alice-pw-1'};
    const bob = {email: `bob-${tag}@example.com`, username: `bob-${tag}`, password: 'bob-pw-1'};
    let aliceToken, aliceId, bobId, cat, other;
    const P = {};
    const signIn = (token) => { c.remotes.auth = authFor(token); };
    const signOut = () => { c.remotes.auth = null; };

    test('User.create registers an account (200, no password in it)', async () => {
      signOut();
      const u = plain(await c.User.create(alice));
      assert.equal(u.email, alice.email);
      assert.equal(u.username, alice.username);
      assert.equal(typeof u.id, 'number');
      assert.equal(u.password, undefined);
      aliceId = u.id;
      bobId = (await c.User.create(bob)).id;
    });

    test('User.create with a taken email: 422 ValidationError (uniqueness)', async () => {
      const err = await rejects(c.User.create({email: alice.email, password: 'x-pw-12345'}), 422);
      assert.equal(err.name, 'ValidationError');
      assert.deepEqual(err.details.codes.email, ['uniqueness']);
    });

    test('User.login with email', async () => {
      const t = await c.User.login({email: alice.email, password: alice.password});
      assert.equal(t.userId, aliceId);
      assert.equal(typeof t.id, 'string');
      assert.equal(t.ttl, 1209600);
      assert.equal(t.user, undefined);
    });

    test('User.login with username', async () => {
      const t = await c.User.login({username: alice.username, password: alice.password});
      assert.equal(t.userId, aliceId);
    });

    test("User.login(credentials, ['user']) includes the user", async () => {
      const t = await c.User.login({email: alice.email, password: alice.password}, ['user']);
      assert.equal(t.userId, aliceId);
      assert.equal(t.user.id, aliceId);
      assert.equal(t.user.email, alice.email);
      aliceToken = t.id;
    });

    test('User.login with a wrong password: 401 LOGIN_FAILED', async () => {
      await rejects(c.User.login({email: alice.email, password: 'wrong-pw-1'}), 401, 'LOGIN_FAILED');
    });

    test('User.findById of oneself', async () => {
      signIn(aliceToken);
      const u = plain(await c.User.findById(aliceId));
      assert.equal(u.id, aliceId);
      assert.equal(u.email, alice.email);
    });

    test('User.findById with fields', async () => {
      const u = plain(await c.User.findById(aliceId, {fields: ['email']}));
      assert.deepEqual(Object.keys(u).filter((k) => u[k] !== undefined), ['email']);
    });

    test("User.findById of another user: 401 AUTHORIZATION_REQUIRED", async () => {
      await rejects(c.User.findById(bobId), 401, 'AUTHORIZATION_REQUIRED');
    });

    test('user.updateAttributes changes the account', async () => {
      const u = await c.User.findById(aliceId);
      const changed = plain(await u.updateAttributes({username: `alice2-${tag}`}));
      assert.equal(changed.username, `alice2-${tag}`);
      assert.equal(plain(await c.User.findById(aliceId)).username, `alice2-${tag}`);
    });

    test('Category.create and Product.create', async () => {
      cat = plain(await c.Category.create({name: `cat-${tag}`}));
      other = plain(await c.Category.create({name: `other-${tag}`}));
      const rows = [['apple', 3, 10], ['banana', 1, 5], ['cherry', 7, 5], ['date', 5, 1], ['Elder', 9, 20]];
      for (const [name, price, qty] of rows) {
        const p = plain(await c.Product.create({name, price, qty, categoryId: cat.id}));
        assert.equal(typeof p.id, 'number');
        assert.equal(p.name, name);
        assert.equal(p.price, price);
        P[name] = p;
      }
    });

    /* every where operator, each on this mode's category only */
    const names = async (where, order = 'id ASC') => (await c.Product.find({where: {and: [{categoryId: cat.id}, where]}, order}))
      .map((p) => p.name);
    const OPERATORS = [
      ['equality', {name: 'apple'}, ['apple']],
      ['neq', {price: {neq: 3}}, ['banana', 'cherry', 'date', 'Elder']],
      ['gt', {price: {gt: 5}}, ['cherry', 'Elder']],
      ['gte', {price: {gte: 5}}, ['cherry', 'date', 'Elder']],
      ['lt', {price: {lt: 3}}, ['banana']],
      ['lte', {price: {lte: 3}}, ['apple', 'banana']],
      ['between', {price: {between: [3, 7]}}, ['apple', 'cherry', 'date']],
      ['inq', {name: {inq: ['apple', 'date', 'nope']}}, ['apple', 'date']],
      ['nin', {name: {nin: ['apple', 'date']}}, ['banana', 'cherry', 'Elder']],
      ['like', {name: {like: '%an%'}}, ['banana']],
      ['nlike', {name: {nlike: '%e%'}}, ['banana']],
      ['ilike', {name: {ilike: 'e%'}}, ['Elder']],
      ['nilike', {name: {nilike: '%E%'}}, ['banana']],
      ['regexp', {name: {regexp: '^[a-c]'}}, ['apple', 'banana', 'cherry']],
      ['regexp with flags', {name: {regexp: '/^e/i'}}, ['Elder']],
      ['and', {and: [{price: {gt: 2}}, {qty: 5}]}, ['cherry']],
      ['or', {or: [{price: 1}, {qty: 20}]}, ['banana', 'Elder']],
    ];
    for (const [op, where, want] of OPERATORS) {
      test(`Product.find where: ${op}`, async () => {
        assert.deepEqual(await names(where), want);
      });
    }

    test('Product.find order by several keys', async () => {
      assert.deepEqual(await names({price: {gt: 0}}, ['qty DESC', 'price ASC']), ['Elder', 'apple', 'banana', 'cherry', 'date']);
    });

    test('Product.find limit and skip', async () => {
      const rows = await c.Product.find({where: {categoryId: cat.id}, order: 'price ASC', limit: 2, skip: 1});
      assert.deepEqual(rows.map((p) => p.name), ['apple', 'date']);
    });

    test('Product.find fields as an array', async () => {
      const rows = plain(await c.Product.find({where: {id: P.apple.id}, fields: ['name', 'price']}));
      assert.deepEqual(rows, [{name: 'apple', price: 3}]);
    });

    test('Product.find fields as an object', async () => {
      const rows = plain(await c.Product.find({where: {id: P.apple.id}, fields: {name: true, qty: true}}));
      assert.deepEqual(rows, [{name: 'apple', qty: 10}]);
    });

    test('Product.find include a belongsTo', async () => {
      const rows = await c.Product.find({where: {id: P.apple.id}, include: 'category'});
      assert.equal(rows.length, 1);
      assert.deepEqual(plain(rows[0]).category, {id: cat.id, name: cat.name});
    });

    test('Category.findById include a hasMany', async () => {
      const found = plain(await c.Category.findById(cat.id, {include: 'products'}));
      assert.equal(found.name, cat.name);
      assert.deepEqual(ids(found.products).sort((a, b) => a - b), ids(Object.values(P)).sort((a, b) => a - b));
    });

    test('Product.findOne', async () => {
      const p = plain(await c.Product.findOne({where: {categoryId: cat.id}, order: 'price DESC'}));
      assert.equal(p.name, 'Elder');
    });

    test('Product.findOne with no match gives null', async () => {
      assert.equal(await c.Product.findOne({where: {name: `none-${tag}`}}), null);
    });

    test('Product.findById of a missing id gives null (404 MODEL_NOT_FOUND)', async () => {
      assert.equal(await c.Product.findById(99999999), null);
    });

    test('Product.count', async () => {
      assert.equal(await c.Product.count({categoryId: cat.id}), 5);
      assert.equal(await c.Product.count({categoryId: cat.id, price: {gt: 4}}), 3);
    });

    test('Product.exists', async () => {
      assert.equal(await c.Product.exists(P.apple.id), true);
      assert.equal(await c.Product.exists(99999999), false);
    });

    test('Product.upsert (patchOrCreate) creates, then patches', async () => {
      const made = plain(await c.Product.upsert({name: 'fig', price: 2, categoryId: other.id}));
      assert.equal(made.name, 'fig');
      const patched = plain(await c.Product.upsert({id: made.id, price: 4}));
      assert.deepEqual(patched, {id: made.id, name: 'fig', price: 4, qty: null, categoryId: other.id});
      P.fig = patched;
    });

    test('Product.replaceById replaces the whole instance', async () => {
      const r = plain(await c.Product.replaceById(P.fig.id, {name: 'fig2', categoryId: other.id}));
      assert.deepEqual(r, {id: P.fig.id, name: 'fig2', price: null, qty: null, categoryId: other.id});
    });

    test('Product.replaceOrCreate creates, then replaces', async () => {
      const made = plain(await c.Product.replaceOrCreate({name: 'grape', price: 6, categoryId: other.id}));
      assert.equal(made.name, 'grape');
      const r = plain(await c.Product.replaceOrCreate({id: made.id, name: 'grape2', categoryId: other.id}));
      assert.deepEqual(r, {id: made.id, name: 'grape2', price: null, qty: null, categoryId: other.id});
      P.grape = r;
    });

    test('Product.upsertWithWhere patches the one match, or creates', async () => {
      const r = plain(await c.Product.upsertWithWhere({name: 'grape2', categoryId: other.id}, {qty: 8}));
      assert.deepEqual(r, {id: P.grape.id, name: 'grape2', price: null, qty: 8, categoryId: other.id});
      const made = plain(await c.Product.upsertWithWhere({name: 'kiwi', categoryId: other.id},
        {name: 'kiwi', categoryId: other.id}));
      assert.equal(made.name, 'kiwi');
      assert.notEqual(made.id, P.grape.id);
      assert.equal(await c.Product.count({categoryId: other.id}), 3);
    });

    test('category.products: create, count, find, findById, updateById, destroyById through the relation', async () => {
      const parent = await c.Category.findById(other.id);
      const made = plain(await parent.products.create({name: 'lime', price: 2}));
      assert.equal(made.categoryId, other.id);
      assert.equal(await parent.products.count({price: 2}), 1);
      assert.deepEqual((await parent.products({where: {price: 2}})).map((p) => p.name), ['lime']);
      assert.deepEqual(plain(await parent.products.findById(made.id)), made);
      const changed = plain(await parent.__updateById__products(made.id, {qty: 4}));
      assert.deepEqual(changed, {...made, qty: 4});
      await parent.products.destroyById(made.id);
      assert.equal(await c.Product.exists(made.id), false);
    });

    test("category.products.findById of another category's product: 404 MODEL_NOT_FOUND", async () => {
      const parent = await c.Category.findById(other.id);
      await rejects(parent.products.findById(P.apple.id), 404, 'MODEL_NOT_FOUND');
    });

    test('Product.destroyById deletes ({count: 1}), then nothing is left', async () => {
      const r = await c.Product.destroyById(P.grape.id);
      assert.deepEqual(plain(r), {count: 1});
      assert.equal(await c.Product.exists(P.grape.id), false);
    });

    test('User.changePassword: the new password logs in, the old one no longer', async () => {
      await c.User.changePassword(aliceId, alice.password, 'alice-pw-2');
      await rejects(c.User.login({email: alice.email, password: alice.password}), 401, 'LOGIN_FAILED');
      const t = await c.User.login({email: alice.email, password: 'alice-pw-2'});
      assert.equal(t.userId, aliceId);
      aliceToken = t.id;
      signIn(aliceToken);
    });

    test('User.logout, then the token is dead (401 on findById)', async () => {
      assert.equal(plain(await c.User.findById(aliceId)).id, aliceId);
      await c.User.logout(aliceToken);
      await rejects(c.User.findById(aliceId), 401, 'INVALID_TOKEN');
    });

    test('login again while the dead token is still attached', async () => {
      const t = await c.User.login({email: alice.email, password: 'alice-pw-2'});
      assert.equal(t.userId, aliceId);
    });
  });
}
